"""The ``job_service`` resource: a JobService built by the composition root, as the worker's is."""

from typing import Any

import dagster as dg

from jobs_pipeline.defs.resources.config import as_settings
from jobs_pipeline.defs.resources.queue import QueuePublisherResource
from jobs_pipeline.defs.resources.telemetry import TelemetryResource
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
    # FEED_* read limits (size, decompression, batch rows, CSV chunk, line), as the worker and the CLI apply them.
    feed_max_file_bytes: int = ReadLimits.max_file_bytes
    feed_max_decompressed_bytes: int = ReadLimits.max_decompressed_bytes
    feed_max_compression_ratio: float = ReadLimits.max_compression_ratio
    feed_batch_rows: int = ReadLimits.batch_rows
    feed_csv_chunk_bytes: int = ReadLimits.csv_chunk_bytes
    feed_max_line_bytes: int = ReadLimits.max_line_bytes

    def to_settings(self) -> Settings:
        return as_settings(self, jobs_pipeline_reports_uri=self.reports_uri or None)

    def retry_policy(self) -> ExponentialRetryPolicy:
        return ExponentialRetryPolicy.from_settings(self.to_settings())

    def get_service(self) -> JobService:
        """Built by :func:`jobs_pipeline.jobs.compose.build_service`, as the worker's is."""
        extra: dict[str, Any] = {} if self.reports_uri else {"report_store": None}
        return compose.build_service(self.to_settings(), publisher=self.queue.get_publisher(),
                                     emitter=self.telemetry.get_emitter(), **extra)


def retry_fields(settings: Settings) -> dict[str, Any]:
    """The ``RETRY_*`` and ``FEED_*`` settings as :class:`JobServiceResource` fields."""
    return {"retry_max_attempts": settings.retry_max_attempts, "retry_base_s": settings.retry_base_s,
            "retry_throttle_base_s": settings.retry_throttle_base_s, "retry_cap_s": settings.retry_cap_s,
            "feed_max_file_bytes": settings.feed_max_file_bytes,
            "feed_max_decompressed_bytes": settings.feed_max_decompressed_bytes,
            "feed_max_compression_ratio": settings.feed_max_compression_ratio,
            "feed_batch_rows": settings.feed_batch_rows, "feed_csv_chunk_bytes": settings.feed_csv_chunk_bytes,
            "feed_max_line_bytes": settings.feed_max_line_bytes}


def report_fields(settings: Settings, *, from_env: bool) -> dict[str, Any]:
    """Where :class:`JobServiceResource` puts error reports: ``JOBS_PIPELINE_REPORTS_URI``, else
    ``JOBS_PIPELINE_REPORTS_DIR``, else ``<data>/reports`` (staging/prod read a set one at launch)."""
    uri: Any = settings.reports_uri
    if from_env and settings.jobs_pipeline_reports_uri:
        uri = dg.EnvVar("JOBS_PIPELINE_REPORTS_URI")
    elif from_env and settings.jobs_pipeline_reports_dir:
        uri = dg.EnvVar("JOBS_PIPELINE_REPORTS_DIR")
    return {"reports_uri": uri, "aws_endpoint_url": settings.aws_endpoint_url, "aws_region": settings.aws_region_name}
