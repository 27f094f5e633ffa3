"""Dagster resources, one ``ConfigurableResource`` subclass per backend, chosen per
deployment (``DAGSTER_DEPLOYMENT=local|staging|prod``) from one dict, once.

Local defaults come from the checked settings; staging and prod read their paths and
secrets through ``dg.EnvVar`` so they resolve at launch and stay hidden in the UI.
"""

import threading
from abc import ABC, abstractmethod
from contextlib import contextmanager
from collections.abc import Iterator
from typing import Any

import dagster as dg
import duckdb

from jobs_pipeline.alerts import AlertSink, build_alert_sink
from jobs_pipeline.defs.s3_resources import s3_landing_resource
from jobs_pipeline.jobs.retry import ExponentialRetryPolicy
from jobs_pipeline.jobs.service import JobService
from jobs_pipeline.queue.memory import InMemoryQueuePublisher
from jobs_pipeline.queue.publisher import QueuePublisher, outcome_queue_name
from jobs_pipeline.reports import build_report_store
from jobs_pipeline.settings import Settings, load_settings
from jobs_pipeline.telemetry.emitter import TelemetryEmitter
from jobs_pipeline.telemetry.factory import build_emitter
from jobs_pipeline.validation.sources import ReadLimits
from jobs_pipeline.warehouse.connection import connect


class QueuePublisherResource(dg.ConfigurableResource, ABC):
    """Base of the queue backends; ops depend on this type, deployments pick a subclass
    (:func:`queue_resource`). Its publisher sends jobs to the tier queues and outcomes
    (``feed.validated``) to the tier's outcome queues, which no job consumer reads."""

    queue_name_free: str = "free"
    queue_name_pro: str = "pro"
    queue_name_outcomes_free: str | None = None  # QUEUE_NAME_OUTCOMES_FREE; None = "<free queue>.outcomes"
    queue_name_outcomes_pro: str | None = None
    publish_outcomes: bool = True  # PUBLISH_OUTCOMES: false = publish_outcome publishes nothing

    def job_queue_names(self) -> dict[str, str]:
        return {"free": self.queue_name_free, "pro": self.queue_name_pro}

    def outcome_queue_names(self) -> dict[str, str]:
        return {"free": self.queue_name_outcomes_free or outcome_queue_name(self.queue_name_free),
                "pro": self.queue_name_outcomes_pro or outcome_queue_name(self.queue_name_pro)}

    @abstractmethod
    def get_publisher(self) -> QueuePublisher: ...


_MEMORY_QUEUES: dict[str, InMemoryQueuePublisher] = {}
_MEMORY_LOCK = threading.Lock()


class InMemoryQueueResource(QueuePublisherResource):
    """Process-local queues (tests, local demo): one shared publisher per ``name``."""

    name: str = "default"

    def get_publisher(self) -> InMemoryQueuePublisher:
        with _MEMORY_LOCK:
            if self.name not in _MEMORY_QUEUES:
                _MEMORY_QUEUES[self.name] = InMemoryQueuePublisher(self.job_queue_names(),
                                                                   self.outcome_queue_names())
            return _MEMORY_QUEUES[self.name]


class CeleryQueueResource(QueuePublisherResource):
    """Publishes through a Celery broker (``send_task`` by name, JSON, task id = job id)."""

    broker_url: str
    max_publish_attempts: int = 3
    publish_retry_cap_s: float = 60.0  # RETRY_CAP_S: longest wait between publish attempts

    def get_publisher(self) -> QueuePublisher:
        from jobs_pipeline.queue.celery_publisher import CeleryQueuePublisher  # Celery only when chosen

        return CeleryQueuePublisher(self.broker_url, self.job_queue_names(),
                                    outcome_queue_names=self.outcome_queue_names(),
                                    max_attempts=self.max_publish_attempts, retry_cap_s=self.publish_retry_cap_s)


class SQSQueueResource(QueuePublisherResource):
    """The tier queues on SQS: publishing, and what ``sqs_jobs_sensor`` consumes.

    ``consume_jobs`` is off where SQS is not a job backend (the sensor then skips).
    ``visibility_timeout_s`` hides a received message until the sensor's next tick has seen
    its run recorded and deleted it, so it must exceed a couple of tick intervals. The outcome
    queues (``outcome_queue_url_*``) are only published to; the sensor never reads them.
    """

    queue_url_free: str = ""
    queue_url_pro: str = ""
    outcome_queue_url_free: str = ""
    outcome_queue_url_pro: str = ""
    region: str | None = None
    endpoint_url: str | None = None
    max_batch_bytes: int = 262_144
    max_publish_attempts: int = 3
    publish_retry_cap_s: float = 60.0
    consume_jobs: bool = True
    max_messages_per_tick: int = 20
    visibility_timeout_s: int = 300

    def get_client(self) -> Any:
        from jobs_pipeline.queue.sqs import sqs_client  # boto3 only when chosen

        return sqs_client(region=self.region, endpoint_url=self.endpoint_url)

    def get_publisher(self) -> QueuePublisher:
        from jobs_pipeline.queue.sqs import SQSQueuePublisher

        return SQSQueuePublisher({"free": self.queue_url_free, "pro": self.queue_url_pro},
                                 outcome_queue_urls={"free": self.outcome_queue_url_free,
                                                     "pro": self.outcome_queue_url_pro},
                                 max_batch_bytes=self.max_batch_bytes, max_attempts=self.max_publish_attempts,
                                 retry_cap_s=self.publish_retry_cap_s, client=self.get_client())


class RolloutQueueResource(QueuePublisherResource):
    """``QUEUE_ROLLOUT_*``: ``percent`` % of messages (by id hash) through ``secondary``."""

    primary: QueuePublisherResource
    secondary: QueuePublisherResource
    percent: float

    def get_publisher(self) -> QueuePublisher:
        from jobs_pipeline.queue.rollout import RolloutQueuePublisher

        return RolloutQueuePublisher(self.primary.get_publisher(), self.secondary.get_publisher(), self.percent)


def _from_env(var: str, current: str | None, from_env: bool) -> Any:
    """Staging/prod: a set variable is read at launch (``dg.EnvVar``, hidden in the UI)."""
    return dg.EnvVar(var) if from_env and current else current


def queue_fields(settings: Settings) -> dict[str, Any]:
    """Queue names and ``PUBLISH_OUTCOMES``, shared by every queue resource."""
    outcomes = settings.outcome_queue_names
    return {"queue_name_free": settings.queue_name_free, "queue_name_pro": settings.queue_name_pro,
            "queue_name_outcomes_free": outcomes["free"], "queue_name_outcomes_pro": outcomes["pro"],
            "publish_outcomes": settings.publish_outcomes}


def sqs_queue_resource(settings: Settings, *, from_env: bool, consume_jobs: bool = True) -> SQSQueueResource:
    from jobs_pipeline.queue.requirements import aws_region

    return SQSQueueResource(
        queue_url_free=_from_env("SQS_QUEUE_FREE_URL", settings.sqs_queue_free_url, from_env),
        queue_url_pro=_from_env("SQS_QUEUE_PRO_URL", settings.sqs_queue_pro_url, from_env),
        outcome_queue_url_free=_from_env("SQS_OUTCOME_QUEUE_FREE_URL", settings.sqs_outcome_queue_free_url,
                                         from_env) or "",
        outcome_queue_url_pro=_from_env("SQS_OUTCOME_QUEUE_PRO_URL", settings.sqs_outcome_queue_pro_url,
                                        from_env) or "",
        region=aws_region(settings),
        endpoint_url=_from_env("SQS_ENDPOINT_URL", settings.sqs_endpoint_url, from_env),
        max_batch_bytes=settings.sqs_max_batch_bytes,
        max_publish_attempts=settings.queue_publish_max_attempts,
        publish_retry_cap_s=settings.retry_cap_s,
        consume_jobs=consume_jobs,
        **queue_fields(settings),
    )


def sqs_jobs_resource(settings: Settings, *, from_env: bool) -> SQSQueueResource:
    """The SQS job queues when ``QUEUE_BACKEND`` or ``QUEUE_ROLLOUT_BACKEND`` is ``sqs``, else a
    disabled placeholder (the sensor skips). Staging/prod read the URLs at launch (``dg.EnvVar``)."""
    if "sqs" not in (settings.queue_backend, settings.queue_rollout_backend):
        return SQSQueueResource(consume_jobs=False)
    return sqs_queue_resource(settings, from_env=from_env)


def queue_resource(settings: Settings, *, from_env: bool) -> QueuePublisherResource:
    """The publishing side of ``QUEUE_BACKEND`` (plus ``QUEUE_ROLLOUT_*``) as a resource, for
    ``publish_outcome`` and ``JobService``: jobs to the tier queues, outcomes to the outcome queues."""

    def single(backend: str) -> QueuePublisherResource:
        if backend == "celery":
            return CeleryQueueResource(
                broker_url=_from_env("CELERY_BROKER_URL", settings.celery_broker_url, from_env),
                max_publish_attempts=settings.queue_publish_max_attempts,
                publish_retry_cap_s=settings.retry_cap_s, **queue_fields(settings))
        if backend == "sqs":
            return sqs_queue_resource(settings, from_env=from_env)
        return InMemoryQueueResource(**queue_fields(settings))

    primary = single(settings.queue_backend)
    rollout = settings.queue_rollout_backend
    if not rollout or settings.queue_rollout_percent <= 0:
        return primary
    return RolloutQueueResource(primary=primary, secondary=single(rollout), percent=settings.queue_rollout_percent,
                                **queue_fields(settings))


class TelemetryResource(dg.ConfigurableResource):
    """The job event sinks (``TELEMETRY_SINKS``), built by the same factory the worker uses."""

    sinks: list[str] = ["log", "lake"]
    lake_dir: str

    def get_emitter(self) -> TelemetryEmitter:
        return build_emitter(self.sinks, lake_dir=self.lake_dir, component="dagster")


class HTTPTelemetryResource(TelemetryResource):
    """Sinks including ``http``: the collector URL and token resolve at launch (``dg.EnvVar``,
    so the token never shows in the UI); the rest of ``TELEMETRY_HTTP_*`` comes from settings."""

    http_url: str
    http_token: str | None = None

    def get_emitter(self) -> TelemetryEmitter:
        return build_emitter(self.sinks, lake_dir=self.lake_dir, component="dagster",
                             http_url=self.http_url, http_token=self.http_token)


def telemetry_resource(settings: Settings, lake_dir: Any, *, from_env: bool) -> TelemetryResource:
    """``TELEMETRY_SINKS`` as a resource; the HTTP token is always read through ``dg.EnvVar``."""
    if "http" not in settings.sinks:
        return TelemetryResource(sinks=settings.sinks, lake_dir=lake_dir)
    return HTTPTelemetryResource(
        sinks=settings.sinks, lake_dir=lake_dir,
        http_url=dg.EnvVar("TELEMETRY_HTTP_URL") if from_env else settings.telemetry_http_url,
        http_token=dg.EnvVar("TELEMETRY_HTTP_TOKEN") if settings.telemetry_http_token else None,
    )


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
    # Error reports (jobs_pipeline.reports): a folder or s3://bucket/prefix; "" = none written.
    reports_uri: str = ""
    aws_endpoint_url: str | None = None  # AWS_ENDPOINT_URL, for an s3:// reports_uri
    aws_region: str | None = None
    # FEED_* read limits (size, decompression, batch rows), as the worker and the CLI apply them.
    feed_max_file_bytes: int = ReadLimits.max_file_bytes
    feed_max_decompressed_bytes: int = ReadLimits.max_decompressed_bytes
    feed_max_compression_ratio: float = ReadLimits.max_compression_ratio
    feed_batch_rows: int = ReadLimits.batch_rows

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
                                   batch_rows=self.feed_batch_rows),
        )


class DuckDBWarehouseResource(dg.ConfigurableResource):
    """The quality database. Writers are serialised by the ``duckdb_writer`` pool;
    readers open it read-only."""

    path: str
    lake_dir: str

    @contextmanager
    def connect(self, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        with connect(self.path, read_only=read_only) as con:
            yield con


class LandingZoneResource(dg.ConfigurableResource):
    """Where sellers' files arrive (``<marketplace>/<category>/<region>/<file>``)."""

    landing_dir: str
    quarantine_dir: str
    tier: str = "free"
    max_files_per_tick: int = 20
    settle_seconds: float = 30.0


class AlertSinkResource(dg.ConfigurableResource, ABC):
    """Where quality anomaly alerts go (:mod:`jobs_pipeline.alerts`); every backend logs."""

    @abstractmethod
    def get_sink(self) -> AlertSink: ...


class LogAlertSinkResource(AlertSinkResource):
    """Log only (no ``ALERT_WEBHOOK_URL``)."""

    def get_sink(self) -> AlertSink:
        return build_alert_sink(None)


class WebhookAlertSinkResource(AlertSinkResource):
    """Log, then POST the alert JSON to ``url`` (``ALERT_WEBHOOK_URL``, a secret: ``dg.EnvVar``)."""

    url: str
    timeout_s: float = 10.0

    def get_sink(self) -> AlertSink:
        return build_alert_sink(self.url, timeout_s=self.timeout_s)


def alert_sink_resource(settings: Settings, *, from_env: bool = True) -> AlertSinkResource:
    if not settings.alert_webhook_url:
        return LogAlertSinkResource()
    # The URL is a secret in every deployment: resolved at launch, hidden in the UI.
    return WebhookAlertSinkResource(url=dg.EnvVar("ALERT_WEBHOOK_URL"))


def retry_fields(settings: Settings) -> dict[str, Any]:
    """The ``RETRY_*`` and ``FEED_*`` settings as :class:`JobServiceResource` fields."""
    return {"retry_max_attempts": settings.retry_max_attempts, "retry_base_s": settings.retry_base_s,
            "retry_throttle_base_s": settings.retry_throttle_base_s, "retry_cap_s": settings.retry_cap_s,
            "feed_max_file_bytes": settings.feed_max_file_bytes,
            "feed_max_decompressed_bytes": settings.feed_max_decompressed_bytes,
            "feed_max_compression_ratio": settings.feed_max_compression_ratio,
            "feed_batch_rows": settings.feed_batch_rows}


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
        "warehouse": DuckDBWarehouseResource(path=str(settings.duckdb_path), lake_dir=settings.lake_uri),
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
        "warehouse": DuckDBWarehouseResource(path=dg.EnvVar("JOBS_PIPELINE_DUCKDB"), lake_dir=lake),
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
