"""Configuration from the environment (pydantic-settings), checked once at start-up.

A missing or wrong variable raises :class:`SettingsError` naming the variable and what to
set, instead of failing later in the middle of a job.
"""

from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from jobs_pipeline.domain.errors import SettingsError
from jobs_pipeline.queue.registry import QUEUE_BACKENDS
from jobs_pipeline.telemetry.registry import TELEMETRY_SINKS

Deployment = Literal["local", "staging", "prod"]


def _csv(value: object) -> list[str]:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return list(value)  # type: ignore[arg-type]


class Settings(BaseSettings):
    """Every environment variable the project reads. Field name = variable name, upper-cased."""

    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", frozen=True)

    dagster_deployment: Deployment = "local"
    queue_backend: str = Field("memory", description="Queue backend publishing jobs.")
    queue_name_free: str = "free"
    queue_name_pro: str = "pro"
    # Outcome (feed.validated) queues, never consumed as jobs; default <job queue>.outcomes.
    queue_name_outcomes_free: str | None = None
    queue_name_outcomes_pro: str | None = None
    publish_outcomes: bool = Field(True, description="false: validate_feed publishes no feed.validated.")
    telemetry_sinks: str = Field("log,lake", description="Comma-separated telemetry sinks.")
    telemetry_source: str | None = Field(None, description="CloudEvents source; default urn:jobs-pipeline:<deployment>:<component>.")
    # Telemetry sinks (docs/events.md); TELEMETRY_HTTP_URL is required when "http" is a sink.
    telemetry_type_namespace: str = Field("io.jobspipeline", description="Reverse-DNS prefix of CloudEvents types.")
    telemetry_http_url: str | None = Field(None, description="Collector URL of the http sink.")
    telemetry_http_token: SecretStr | None = Field(None, description="Bearer token of the http sink (never logged).")
    telemetry_http_mode: Literal["batch", "structured"] = "batch"
    telemetry_http_batch_max_events: int = Field(500, gt=0)
    telemetry_http_batch_max_bytes: int = Field(1_000_000, ge=65_536)
    telemetry_http_batch_max_age_s: float = Field(1.0, gt=0)
    telemetry_http_gzip: bool = True
    telemetry_http_timeout_s: float = Field(10.0, gt=0)
    telemetry_http_backoff_base_s: float = Field(0.5, ge=0)
    telemetry_http_backoff_cap_s: float = Field(60.0, ge=0)
    telemetry_http_max_queue: int = Field(20_000, gt=0, description="Events held in memory before spooling.")
    telemetry_spool_dir: Path | None = Field(None, description="Backlog of the http sink while it is down.")
    telemetry_duckdb_path: Path | None = Field(None, description="File of the duckdb sink (single process).")

    jobs_pipeline_data_dir: Path = Path("data")
    jobs_pipeline_landing_dir: Path | None = None
    jobs_pipeline_lake_dir: Path | None = None
    jobs_pipeline_duckdb: Path | None = None
    jobs_pipeline_quarantine_dir: Path | None = None
    jobs_pipeline_reports_dir: Path | None = None
    jobs_pipeline_landing_tier: Literal["free", "pro"] = "free"
    # S3 (issue 8, docs/deployment.md#aws): s3://bucket/prefix selects S3, else the local folders.
    jobs_pipeline_landing_uri: str | None = Field(None, description="Landing area: a folder or s3://bucket/prefix.")
    jobs_pipeline_lake_uri: str | None = Field(None, description="Event lake: a folder or s3://bucket/prefix.")
    jobs_pipeline_reports_uri: str | None = Field(None, description="Error reports: a folder or s3://bucket/prefix.")
    aws_endpoint_url: str | None = Field(None, description="Endpoint for every AWS client (local S3/SQS server).")

    progress_every_records: int = Field(100_000, gt=0)
    sample_errors_limit: int = Field(20, ge=0)
    # Feed limits (validation): an upload over FEED_MAX_FILE_BYTES, or expanding past
    # FEED_MAX_DECOMPRESSED_BYTES / FEED_MAX_COMPRESSION_RATIO, is refused; FEED_BATCH_ROWS
    # candidate records are checked exactly at a time and polars reads FEED_CSV_CHUNK_BYTES
    # of CSV text at a time (together, the memory budget).
    feed_max_file_bytes: int = Field(2 << 30, gt=0)
    feed_max_decompressed_bytes: int = Field(8 << 30, gt=0)
    feed_max_compression_ratio: float = Field(100.0, gt=1)
    feed_batch_rows: int = Field(50_000, gt=0)
    feed_csv_chunk_bytes: int = Field(4 << 20, ge=64 << 10)

    # Retries of transient/throttled failures (jobs_pipeline.domain.retry, docs/retries.md).
    retry_max_attempts: int = Field(3, ge=1, description="Attempts per job, the first included.")
    retry_base_s: float = Field(1.0, ge=0, description="Backoff base for transient errors (s).")
    retry_throttle_base_s: float = Field(5.0, ge=0, description="Backoff base when throttled (s).")
    retry_cap_s: float = Field(60.0, ge=0, description="Largest delay between attempts (s).")

    # BI marts, anomaly alerts and the dashboard (docs/dashboards.md).
    alert_webhook_url: str | None = Field(None, description="POST each quality anomaly here (JSON); unset: log only.")
    anomaly_sensitivity: float = Field(3.0, gt=0, description="Robust score beyond which a change is an anomaly.")
    quality_dashboard_path: Path | None = Field(None, description="Dashboard HTML file (default <reports>/quality_dashboard.html).")

    # Queue backends (docs/queue-migration.md). Required ones are checked by check_queue_settings.
    celery_broker_url: str | None = Field(None, description="Celery broker, e.g. redis://host:6379/0.")
    queue_publish_max_attempts: int = Field(3, ge=1, description="Publish attempts on transient broker errors.")
    celery_visibility_timeout_s: int = Field(3600, gt=0, description="Redelivery delay of unacked tasks (> longest job).")
    aws_region: str | None = Field(None, description="SQS region (falls back to AWS_DEFAULT_REGION).")
    sqs_endpoint_url: str | None = Field(None, description="SQS endpoint override (local SQS-compatible server).")
    sqs_queue_free_url: str | None = None
    sqs_queue_pro_url: str | None = None
    sqs_outcome_queue_free_url: str | None = None  # required with sqs unless PUBLISH_OUTCOMES=false
    sqs_outcome_queue_pro_url: str | None = None
    sqs_max_batch_bytes: int = Field(262_144, gt=0, le=1_048_576, description="SendMessageBatch byte cap.")
    queue_rollout_backend: str | None = Field(None, description="Second backend getting a share of jobs.")
    queue_rollout_percent: float = Field(0.0, ge=0, le=100, description="Share of jobs (by job_id hash).")

    @field_validator("queue_backend")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        value = value.strip().lower()
        if value not in QUEUE_BACKENDS:
            raise ValueError(f"unknown queue backend {value!r}; allowed: {', '.join(sorted(QUEUE_BACKENDS))}")
        return value

    @field_validator("queue_rollout_backend")
    @classmethod
    def _known_rollout_backend(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        return cls._known_backend(value)

    @field_validator("jobs_pipeline_landing_uri", "jobs_pipeline_lake_uri", "jobs_pipeline_reports_uri")
    @classmethod
    def _location(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if value.strip().lower().startswith("s3:"):
            from jobs_pipeline.storage.uri import S3Uri

            return str(S3Uri.parse(value.strip()))  # ValueError names what is wrong
        return value.strip()

    @field_validator("telemetry_sinks")
    @classmethod
    def _known_sinks(cls, value: str) -> str:
        sinks = _csv(value.lower())
        unknown = [s for s in sinks if s not in TELEMETRY_SINKS]
        if unknown or not sinks:
            raise ValueError(
                f"unknown telemetry sink(s) {unknown or value!r}; allowed: {', '.join(sorted(TELEMETRY_SINKS))}"
            )
        return ",".join(sinks)

    @property
    def sinks(self) -> list[str]:
        return _csv(self.telemetry_sinks)

    @cached_property
    def data_dir(self) -> Path:
        return self.jobs_pipeline_data_dir.expanduser().resolve()

    @property
    def landing_dir(self) -> Path:
        return (self.jobs_pipeline_landing_dir or self.data_dir / "landing").expanduser().resolve()

    @property
    def landing_uri(self) -> str:
        """``JOBS_PIPELINE_LANDING_URI`` if set (``s3://`` or a folder), else the landing folder."""
        return self.jobs_pipeline_landing_uri or str(self.landing_dir)

    @property
    def lake_uri(self) -> str:
        """``JOBS_PIPELINE_LAKE_URI`` if set (``s3://`` or a folder), else the lake folder."""
        return self.jobs_pipeline_lake_uri or str(self.lake_dir)

    @property
    def lake_dir(self) -> Path:
        return (self.jobs_pipeline_lake_dir or self.data_dir / "lake").expanduser().resolve()

    @property
    def duckdb_path(self) -> Path:
        return (self.jobs_pipeline_duckdb or self.data_dir / "quality.duckdb").expanduser().resolve()

    @property
    def quarantine_dir(self) -> Path:
        return (self.jobs_pipeline_quarantine_dir or self.data_dir / "quarantine").expanduser().resolve()

    @property
    def telemetry_spool_path(self) -> Path:
        return (self.telemetry_spool_dir or self.data_dir / "telemetry-spool").expanduser().resolve()

    @property
    def telemetry_duckdb_file(self) -> Path:
        return (self.telemetry_duckdb_path or self.data_dir / "telemetry.duckdb").expanduser().resolve()

    @property
    def reports_dir(self) -> Path:
        return (self.jobs_pipeline_reports_dir or self.data_dir / "reports").expanduser().resolve()

    @property
    def reports_uri(self) -> str:
        """``JOBS_PIPELINE_REPORTS_URI`` if set (``s3://`` or a folder), else the reports folder."""
        return self.jobs_pipeline_reports_uri or str(self.reports_dir)

    @property
    def dashboard_path(self) -> Path:
        return (self.quality_dashboard_path or self.reports_dir / "quality_dashboard.html").expanduser().resolve()

    def queue_name(self, tier: str) -> str:
        return self.queue_name_pro if tier == "pro" else self.queue_name_free

    @property
    def outcome_queue_names(self) -> dict[str, str]:
        """Outcome queue per tier (memory, Celery): ``QUEUE_NAME_OUTCOMES_*`` or ``<job queue>.outcomes``."""
        from jobs_pipeline.queue.publisher import outcome_queue_name

        return {"free": self.queue_name_outcomes_free or outcome_queue_name(self.queue_name_free),
                "pro": self.queue_name_outcomes_pro or outcome_queue_name(self.queue_name_pro)}


def format_settings_error(exc: ValidationError) -> str:
    """One line per bad variable: its name, what is wrong, and what to set."""
    lines = []
    for err in exc.errors():
        var = str(err["loc"][0]).upper() if err["loc"] else "?"
        got = err.get("input")
        lines.append(f"{var}: {err['msg']} (got {got!r}); set {var} in the environment")
    return "invalid configuration: " + "; ".join(lines)


def load_settings(**overrides: object) -> Settings:
    """Read and check the environment; raise :class:`SettingsError` naming the bad variable."""
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise SettingsError(format_settings_error(exc)) from None
    from jobs_pipeline.queue.requirements import check_queue_settings  # no client libraries imported

    check_queue_settings(settings)
    from jobs_pipeline.telemetry.config import check_telemetry_settings

    check_telemetry_settings(settings)
    return settings
