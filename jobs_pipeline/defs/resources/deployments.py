"""Dagster resources, one ``ConfigurableResource`` subclass per backend, chosen per
deployment (``DAGSTER_DEPLOYMENT=local|staging|prod``) from one dict, once.

Local defaults come from the checked settings; staging and prod read their paths and
secrets through ``dg.EnvVar`` so they resolve at launch and stay hidden in the UI.
"""

from typing import Any

import dagster as dg

from jobs_pipeline.defs.resources.alerts import (  # noqa: F401  (re-exported: one place to import resources from)
    AlertSinkResource, LogAlertSinkResource, WebhookAlertSinkResource, alert_sink_resource,
)
from jobs_pipeline.defs.resources.queue import (  # noqa: F401
    CeleryQueueResource, InMemoryQueueResource, QueuePublisherResource, RolloutQueueResource, SQSQueueResource,
    queue_fields, queue_resource, sqs_jobs_resource,
)
from jobs_pipeline.defs.resources.s3_landing import s3_landing_resource
from jobs_pipeline.defs.resources.telemetry import (  # noqa: F401
    HTTPTelemetryResource, TelemetryResource, telemetry_resource,
)
from jobs_pipeline.domain.retry import ExponentialRetryPolicy
from jobs_pipeline.jobs.service import JobService
from jobs_pipeline.jobs.reports import build_report_store
from jobs_pipeline.settings import Settings, load_settings
from jobs_pipeline.validation.sources import ReadLimits
from jobs_pipeline.defs.resources.warehouse import DuckDBWarehouseResource, warehouse_resource  # noqa: F401


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

    def retry_policy(self) -> ExponentialRetryPolicy:
        return ExponentialRetryPolicy(max_attempts=self.retry_max_attempts, base_s=self.retry_base_s,
                                      throttle_base_s=self.retry_throttle_base_s, cap_s=self.retry_cap_s)

    def get_service(self) -> JobService:
        return JobService(
            self.queue.get_publisher(),
            self.telemetry.get_emitter(),
            progress_every=self.progress_every_records,
            sample_limit=self.sample_errors_limit,
            retry_policy=self.retry_policy(),
            report_store=build_report_store(self.reports_uri, endpoint_url=self.aws_endpoint_url,
                                            region=self.aws_region) if self.reports_uri else None,
            read_limits=ReadLimits(max_file_bytes=self.feed_max_file_bytes,
                                   max_decompressed_bytes=self.feed_max_decompressed_bytes,
                                   max_compression_ratio=self.feed_max_compression_ratio,
                                   batch_rows=self.feed_batch_rows, csv_chunk_bytes=self.feed_csv_chunk_bytes),
        )


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
    from jobs_pipeline.queue.requirements import aws_region

    uri: Any = settings.reports_uri
    if from_env and settings.jobs_pipeline_reports_uri:
        uri = dg.EnvVar("JOBS_PIPELINE_REPORTS_URI")
    elif from_env and settings.jobs_pipeline_reports_dir:
        uri = dg.EnvVar("JOBS_PIPELINE_REPORTS_DIR")
    return {"reports_uri": uri, "aws_endpoint_url": settings.aws_endpoint_url, "aws_region": aws_region(settings)}


def local_resources(settings: Settings) -> dict[str, Any]:
    telemetry = telemetry_resource(settings, settings.lake_uri, from_env=False)
    return {
        "job_service": JobServiceResource(
            queue=InMemoryQueueResource(**queue_fields(settings)),  # local: always process-local queues
            telemetry=telemetry,
            progress_every_records=settings.progress_every_records,
            sample_errors_limit=settings.sample_errors_limit,
            **retry_fields(settings),
            **report_fields(settings, from_env=False),
        ),
        "warehouse": warehouse_resource(settings, from_env=False),
        "sqs_jobs": sqs_jobs_resource(settings, from_env=False),
        "alert_sink": alert_sink_resource(settings, from_env=False),
        "s3_landing": s3_landing_resource(settings, from_env=False),
        "landing": LandingZoneResource(
            landing_dir=str(settings.landing_dir),
            quarantine_dir=str(settings.quarantine_dir),
            tier=settings.jobs_pipeline_landing_tier,
        ),
    }


def shared_resources(settings: Settings) -> dict[str, Any]:
    """Staging and prod: every location and secret from the environment at launch."""
    lake = dg.EnvVar("JOBS_PIPELINE_LAKE_URI" if settings.jobs_pipeline_lake_uri else "JOBS_PIPELINE_LAKE_DIR")
    telemetry = telemetry_resource(settings, lake, from_env=True)
    return {
        "job_service": JobServiceResource(
            queue=queue_resource(settings, from_env=True),  # QUEUE_BACKEND (+ rollout): jobs and outcomes
            telemetry=telemetry,
            progress_every_records=settings.progress_every_records,
            sample_errors_limit=settings.sample_errors_limit,
            **retry_fields(settings),
            **report_fields(settings, from_env=True),
        ),
        "warehouse": warehouse_resource(settings, from_env=True),
        "sqs_jobs": sqs_jobs_resource(settings, from_env=True),
        "alert_sink": alert_sink_resource(settings, from_env=True),
        "s3_landing": s3_landing_resource(settings, from_env=True),
        "landing": LandingZoneResource(
            landing_dir=dg.EnvVar("JOBS_PIPELINE_LANDING_DIR"),
            quarantine_dir=dg.EnvVar("JOBS_PIPELINE_QUARANTINE_DIR"),
            tier=settings.jobs_pipeline_landing_tier,
        ),
    }


def resources_by_deployment(settings: Settings) -> dict[str, dict[str, Any]]:
    return {
        "local": local_resources(settings),
        "staging": shared_resources(settings),
        "prod": shared_resources(settings),
    }


@dg.definitions
def resources() -> dg.Definitions:
    settings = load_settings()
    return dg.Definitions(resources=resources_by_deployment(settings)[settings.dagster_deployment])
