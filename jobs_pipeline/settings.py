"""Configuration from the environment (pydantic-settings): every variable, typed and checked.

A leaf module: it imports nothing of the project. A wrong variable raises :class:`SettingsError`
naming it; checks that need the queue and telemetry registries run at start-up from
:mod:`jobs_pipeline.jobs.compose`.
"""

import os
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cached_property
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Deployment = Literal["local", "staging", "prod"]
#: Default outcome queue of a job queue (the suffix of ``queue.publisher.outcome_queue_name``).
OUTCOME_QUEUE_SUFFIX = ".outcomes"


class SettingsError(ValueError):
    """A missing or wrong environment variable, detected at start-up."""

    retry_class: ClassVar[str] = "permanent"

    @property
    def reason(self) -> str:
        """The one-line reason shown to users."""
        return str(self).splitlines()[0] if str(self) else type(self).__name__


#: Allowed names per field (``queue_backend``, ``telemetry_sinks``...) while one load checks them.
_KNOWN_NAMES: ContextVar[Mapping[str, Collection[str]]] = ContextVar("known_names", default={})


@contextmanager
def _known_names(names: Mapping[str, Collection[str]] | None) -> Iterator[None]:
    token = _KNOWN_NAMES.set(names or {})
    try:
        yield
    finally:
        _KNOWN_NAMES.reset(token)


def _check_known(field: str, value: str | list[str], what: str) -> None:
    allowed = _KNOWN_NAMES.get().get(field)
    if allowed is None:
        return
    unknown = [v for v in value if v not in allowed] if isinstance(value, list) else (
        value if value not in allowed else None)
    if unknown:
        raise ValueError(f"unknown {what} {unknown!r}; allowed: {', '.join(sorted(allowed))}")


def _s3_location(value: str) -> str:
    """``s3://bucket/prefix`` normalised to a trailing ``/`` (as ``storage.uri.S3Uri`` does)."""
    if not value.startswith("s3://"):
        raise ValueError(f"not an s3:// location: {value!r}")
    bucket, _, prefix = value[len("s3://"):].partition("/")
    if not bucket:
        raise ValueError(f"no bucket in {value!r}")
    prefix = prefix.strip("/")
    return f"s3://{bucket}/{prefix}/" if prefix else f"s3://{bucket}/"


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
    # S3 (docs/deployment.md#aws): s3://bucket/prefix selects S3, else the local folders.
    jobs_pipeline_landing_uri: str | None = Field(None, description="Landing area: a folder or s3://bucket/prefix.")
    jobs_pipeline_lake_uri: str | None = Field(None, description="Event lake: a folder or s3://bucket/prefix.")
    jobs_pipeline_reports_uri: str | None = Field(None, description="Error reports: a folder or s3://bucket/prefix.")
    jobs_pipeline_rulesets_dir: str | None = Field(
        None, description="Team-owned rulesets found beside the shipped ones: a folder or s3://bucket/prefix.")
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
    feed_max_line_bytes: int = Field(16 << 20, ge=1 << 20, description="Longest line or quoted field of a feed.")

    # Retries of transient/throttled failures (jobs_pipeline.domain.retry, docs/retries.md).
    retry_max_attempts: int = Field(3, ge=1, description="Attempts per job, the first included.")
    retry_base_s: float = Field(1.0, ge=0, description="Backoff base for transient errors (s).")
    retry_throttle_base_s: float = Field(5.0, ge=0, description="Backoff base when throttled (s).")
    retry_cap_s: float = Field(60.0, ge=0, description="Largest delay between attempts (s).")

    # BI marts, anomaly alerts and the dashboard (docs/dashboards.md).
    alert_webhook_url: str | None = Field(None, description="POST each quality anomaly here (JSON); unset: log only.")
    anomaly_sensitivity: float = Field(3.0, gt=0, description="Robust score beyond which a change is an anomaly.")
    quality_dashboard_path: Path | None = Field(None, description="Dashboard HTML file (default <reports>/quality_dashboard.html).")
    quality_snapshot_path: Path | None = Field(
        None, description="Read-only snapshot for BI tools, the dashboard and alerts (default <duckdb>.snapshot.duckdb).")
    event_dedup_window_days: int = Field(
        2, ge=0, description="UTC days either side of new events searched for a re-emitted copy of an id.")
    lake_backlog_max_files: int = Field(
        100, ge=0, description="Lake files with events not yet in job_events above which the backlog check fails.")

    # Queue backends (docs/queue-migration.md). Required ones: queue.requirements.check_queue_settings.
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
        _check_known("queue_backend", value, "queue backend")
        return value

    @field_validator("queue_rollout_backend")
    @classmethod
    def _known_rollout_backend(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip().lower()
        _check_known("queue_rollout_backend", value, "queue backend")
        return value

    @field_validator("jobs_pipeline_landing_uri", "jobs_pipeline_lake_uri", "jobs_pipeline_reports_uri",
                     "jobs_pipeline_rulesets_dir")
    @classmethod
    def _location(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if value.strip().lower().startswith("s3:"):
            return _s3_location(value.strip())  # ValueError names what is wrong
        return value.strip()

    @field_validator("telemetry_sinks")
    @classmethod
    def _known_sinks(cls, value: str) -> str:
        sinks = _csv(value.lower())
        if not sinks:
            raise ValueError(f"no telemetry sink in {value!r}")
        _check_known("telemetry_sinks", sinks, "telemetry sink(s)")
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

    @property
    def outcome_queue_names(self) -> dict[str, str]:
        """Outcome queue per tier (memory, Celery): ``QUEUE_NAME_OUTCOMES_*`` or ``<job queue>.outcomes``."""
        return {"free": self.queue_name_outcomes_free or self.queue_name_free + OUTCOME_QUEUE_SUFFIX,
                "pro": self.queue_name_outcomes_pro or self.queue_name_pro + OUTCOME_QUEUE_SUFFIX}

    @property
    def aws_region_name(self) -> str | None:
        """The region of every AWS client: ``AWS_REGION``, else the SDK's own ``AWS_DEFAULT_REGION``."""
        return self.aws_region or os.environ.get("AWS_DEFAULT_REGION") or None


def format_settings_error(exc: ValidationError) -> str:
    """One line per bad variable: its name, what is wrong, and what to set."""
    lines = []
    for err in exc.errors():
        var = str(err["loc"][0]).upper() if err["loc"] else "?"
        got = err.get("input")
        lines.append(f"{var}: {err['msg']} (got {got!r}); set {var} in the environment")
    return "invalid configuration: " + "; ".join(lines)


def load_settings(*, known_names: Mapping[str, Collection[str]] | None = None, **overrides: object) -> Settings:
    """Read and type-check the environment; raise :class:`SettingsError` naming every bad variable.

    ``known_names`` maps a field (``queue_backend``, ``queue_rollout_backend``, ``telemetry_sinks``)
    to its allowed names, so an unknown name is reported with the other bad variables.
    """
    try:
        with _known_names(known_names):
            return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise SettingsError(format_settings_error(exc)) from None
