"""Dagster resources of every deployment (``DAGSTER_DEPLOYMENT=local|staging|prod``): :func:`resources_for`.

Values come from the checked settings. Staging and prod read each *set* location and every
secret through ``dg.EnvVar`` (resolved at launch, hidden in the UI); local keeps process-local
memory queues. Resources build their objects with the same factories as the worker.
"""

from typing import Any

import dagster as dg

from jobs_pipeline.defs.resources.alerts import (  # noqa: F401  (re-exported: one place to import resources from)
    AlertSinkResource, LogAlertSinkResource, WebhookAlertSinkResource, alert_sink_resource,
)
from jobs_pipeline.defs.resources.config import as_settings, env_or
from jobs_pipeline.defs.resources.queue import (  # noqa: F401
    CeleryQueueResource, InMemoryQueueResource, QueueBackendResource, QueuePublisherResource, RolloutQueueResource,
    SQSQueueResource, queue_fields, queue_resource, sqs_jobs_resource,
)
from jobs_pipeline.defs.resources.s3_landing import s3_landing_resource
from jobs_pipeline.defs.resources.telemetry import (  # noqa: F401
    HTTPTelemetryResource, TelemetryResource, telemetry_resource,
)
from jobs_pipeline.defs.resources.warehouse import DuckDBWarehouseResource, warehouse_resource  # noqa: F401
from jobs_pipeline.domain.retry import ExponentialRetryPolicy
from jobs_pipeline.jobs import compose
from jobs_pipeline.jobs.service import JobService
from jobs_pipeline.settings import Settings
from jobs_pipeline.validation.sources import ReadLimits


class JobServiceResource(dg.ConfigurableResource):
    """A :class:`JobService` wired with the deployment's queue and telemetry."""

    queue: QueuePublisherResource
    telemetry: TelemetryResource
    progress_every_records: int = 100_000
    sample_errors_limit: int = 20
    # RETRY_* settings: the same policy the Celery task uses (docs/retries.md).
    retry_max_attempts: int = 3
    retry_base_s: float = 1.0
    retry_throttle_base_s: float = 5.0
    retry_cap_s: float = 60.0
    # Error reports (jobs_pipeline.jobs.reports): a folder or s3://bucket/prefix; "" = none written.
    reports_uri: str = ""
    aws_endpoint_url: str | None = None  # AWS_ENDPOINT_URL, for an s3:// reports_uri
    aws_region: str | None = None
    # FEED_* read limits (size, decompression, batch rows, CSV chunk), as the worker and the CLI apply them.
    feed_max_file_bytes: int = ReadLimits.max_file_bytes
    feed_max_decompressed_bytes: int = ReadLimits.max_decompressed_bytes
    feed_max_compression_ratio: float = ReadLimits.max_compression_ratio
    feed_batch_rows: int = ReadLimits.batch_rows
    feed_csv_chunk_bytes: int = ReadLimits.csv_chunk_bytes

    def to_settings(self) -> Settings:
        return as_settings(self, jobs_pipeline_reports_uri=self.reports_uri or None)

    def retry_policy(self) -> ExponentialRetryPolicy:
        return ExponentialRetryPolicy.from_settings(self.to_settings())

    def get_service(self) -> JobService:
        """Built by :func:`jobs_pipeline.jobs.compose.build_service`, as the worker's is."""
        extra: dict[str, Any] = {} if self.reports_uri else {"report_store": None}
        return compose.build_service(self.to_settings(), publisher=self.queue.get_publisher(),
                                     emitter=self.telemetry.get_emitter(), **extra)


class LandingZoneResource(dg.ConfigurableResource):
    """Where sellers' files arrive (``<marketplace>/<category>/<region>/<file>``)."""

    landing_dir: str
    quarantine_dir: str
    tier: str = "free"
    max_files_per_tick: int = 20
    settle_seconds: float = 30.0


def retry_fields(settings: Settings) -> dict[str, Any]:
    """The ``RETRY_*`` and ``FEED_*`` settings as :class:`JobServiceResource` fields."""
    return {"retry_max_attempts": settings.retry_max_attempts, "retry_base_s": settings.retry_base_s,
            "retry_throttle_base_s": settings.retry_throttle_base_s, "retry_cap_s": settings.retry_cap_s,
            "feed_max_file_bytes": settings.feed_max_file_bytes,
            "feed_max_decompressed_bytes": settings.feed_max_decompressed_bytes,
            "feed_max_compression_ratio": settings.feed_max_compression_ratio,
            "feed_batch_rows": settings.feed_batch_rows, "feed_csv_chunk_bytes": settings.feed_csv_chunk_bytes}


def report_fields(settings: Settings, *, from_env: bool) -> dict[str, Any]:
    """Where :class:`JobServiceResource` puts error reports: ``JOBS_PIPELINE_REPORTS_URI``, else
    ``JOBS_PIPELINE_REPORTS_DIR``, else ``<data>/reports`` (staging/prod read a set one at launch)."""
    uri: Any = settings.reports_uri
    if from_env and settings.jobs_pipeline_reports_uri:
        uri = dg.EnvVar("JOBS_PIPELINE_REPORTS_URI")
    elif from_env and settings.jobs_pipeline_reports_dir:
        uri = dg.EnvVar("JOBS_PIPELINE_REPORTS_DIR")
    return {"reports_uri": uri, "aws_endpoint_url": settings.aws_endpoint_url, "aws_region": settings.aws_region_name}


def resources_for(settings: Settings) -> dict[str, Any]:
    """The resources of ``settings.dagster_deployment``; staging/prod read set variables at launch."""
    from_env = settings.dagster_deployment != "local"
    lake_var = "JOBS_PIPELINE_LAKE_URI" if settings.jobs_pipeline_lake_uri else "JOBS_PIPELINE_LAKE_DIR"
    lake = env_or(lake_var, settings.jobs_pipeline_lake_uri or settings.jobs_pipeline_lake_dir, settings.lake_uri,
                  from_env)
    # local: always process-local queues; elsewhere QUEUE_BACKEND (+ rollout), jobs and outcomes
    queue = queue_resource(settings, from_env=True) if from_env else InMemoryQueueResource(**queue_fields(settings))
    return {
        "job_service": JobServiceResource(
            queue=queue,
            telemetry=telemetry_resource(settings, lake, from_env=from_env),
            progress_every_records=settings.progress_every_records,
            sample_errors_limit=settings.sample_errors_limit,
            **retry_fields(settings),
            **report_fields(settings, from_env=from_env),
        ),
        "warehouse": warehouse_resource(settings, from_env=from_env),
        "sqs_jobs": sqs_jobs_resource(settings, from_env=from_env),
        "alert_sink": alert_sink_resource(settings, from_env=from_env),
        "s3_landing": s3_landing_resource(settings, from_env=from_env),
        "landing": LandingZoneResource(
            landing_dir=env_or("JOBS_PIPELINE_LANDING_DIR", settings.jobs_pipeline_landing_dir,
                               str(settings.landing_dir), from_env),
            quarantine_dir=env_or("JOBS_PIPELINE_QUARANTINE_DIR", settings.jobs_pipeline_quarantine_dir,
                                  str(settings.quarantine_dir), from_env),
            tier=settings.jobs_pipeline_landing_tier,
        ),
    }


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources=resources_for(compose.load_checked_settings()))
