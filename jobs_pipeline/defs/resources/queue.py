"""Queue publisher resources: each turns its fields into settings and calls the queue factory.

Ops depend on :class:`QueuePublisherResource`. :class:`QueueBackendResource` serves any backend
of the queue registry; Celery and SQS have subclasses only to read their secrets through
``dg.EnvVar``; memory queues are process-local; rollout combines two resources.
"""

import threading
from abc import ABC, abstractmethod
from typing import Any, ClassVar

import dagster as dg

from jobs_pipeline.defs.resources.config import as_settings, env_or
from jobs_pipeline.queue.memory import InMemoryQueuePublisher
from jobs_pipeline.queue.publisher import QueuePublisher
from jobs_pipeline.queue.queue_factory import build_publisher
from jobs_pipeline.queue.requirements import REQUIRED, REQUIRED_FOR_OUTCOMES
from jobs_pipeline.settings import Settings


class QueuePublisherResource(dg.ConfigurableResource, ABC):
    """Base of the queue resources. Its publisher sends jobs to the tier queues and outcomes
    (``feed.validated``) to the tier's outcome queues, which no job consumer reads."""

    queue_name_free: str = "free"
    queue_name_pro: str = "pro"
    queue_name_outcomes_free: str | None = None  # QUEUE_NAME_OUTCOMES_FREE; None = "<free queue>.outcomes"
    queue_name_outcomes_pro: str | None = None
    publish_outcomes: bool = True  # PUBLISH_OUTCOMES: false = publish_outcome publishes nothing

    def to_settings(self) -> Settings:
        return as_settings(self)

    @abstractmethod
    def get_publisher(self) -> QueuePublisher: ...


class _OneBackend(QueuePublisherResource):
    """A resource for the backend ``BACKEND``: its settings through the queue factory."""

    BACKEND: ClassVar[str]

    def get_publisher(self) -> QueuePublisher:
        return build_publisher(self.to_settings(), self.BACKEND)


_MEMORY_QUEUES: dict[str, InMemoryQueuePublisher] = {}
_MEMORY_LOCK = threading.Lock()


class InMemoryQueueResource(QueuePublisherResource):
    """Process-local queues (tests, local demo): one shared publisher per ``name``."""

    name: str = "default"

    def get_publisher(self) -> InMemoryQueuePublisher:
        with _MEMORY_LOCK:
            if self.name not in _MEMORY_QUEUES:
                _MEMORY_QUEUES[self.name] = build_publisher(self.to_settings(), "memory")
            return _MEMORY_QUEUES[self.name]


class QueueBackendResource(QueuePublisherResource):
    """Any registered backend (``queue_backend``), built by the queue factory; ``settings_fields``
    carries the other settings it reads (string values, by lower-case variable name)."""

    queue_backend: str = "memory"
    settings_fields: dict[str, str] = {}
    queue_publish_max_attempts: int = 3
    retry_cap_s: float = 60.0  # RETRY_CAP_S: longest wait between publish attempts

    def to_settings(self) -> Settings:
        return as_settings(self, **self.settings_fields)

    def get_publisher(self) -> QueuePublisher:
        return build_publisher(self.to_settings(), self.queue_backend)


class CeleryQueueResource(_OneBackend):
    """Celery: the broker URL (``CELERY_BROKER_URL``) may hold a password (``dg.EnvVar``)."""

    BACKEND: ClassVar[str] = "celery"
    broker_url: str
    max_publish_attempts: int = 3
    publish_retry_cap_s: float = 60.0

    def to_settings(self) -> Settings:
        return as_settings(self, celery_broker_url=self.broker_url,
                           queue_publish_max_attempts=self.max_publish_attempts, retry_cap_s=self.publish_retry_cap_s)


class SQSQueueResource(_OneBackend):
    """The tier queues on SQS: publishing, and what ``sqs_jobs_sensor`` consumes.

    ``consume_jobs`` is off where SQS is not a job backend (the sensor then skips).
    ``visibility_timeout_s`` must exceed a couple of sensor ticks. The outcome queues are only
    published to; the sensor never reads them.
    """

    BACKEND: ClassVar[str] = "sqs"
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
    max_messages_per_tick: int = 100  # SQS receives 10 per call: 10 calls a tick at most
    visibility_timeout_s: int = 300

    def get_client(self) -> Any:
        from jobs_pipeline.queue.sqs import sqs_client  # boto3 only when chosen

        return sqs_client(region=self.region, endpoint_url=self.endpoint_url)

    def to_settings(self) -> Settings:
        return as_settings(self, sqs_queue_free_url=self.queue_url_free, sqs_queue_pro_url=self.queue_url_pro,
                           sqs_outcome_queue_free_url=self.outcome_queue_url_free or None,
                           sqs_outcome_queue_pro_url=self.outcome_queue_url_pro or None,
                           aws_region=self.region, sqs_endpoint_url=self.endpoint_url,
                           sqs_max_batch_bytes=self.max_batch_bytes,
                           queue_publish_max_attempts=self.max_publish_attempts, retry_cap_s=self.publish_retry_cap_s)


class RolloutQueueResource(QueuePublisherResource):
    """``QUEUE_ROLLOUT_*``: ``percent`` % of messages (by id hash) through ``secondary``."""

    primary: QueuePublisherResource
    secondary: QueuePublisherResource
    percent: float

    def get_publisher(self) -> QueuePublisher:
        from jobs_pipeline.queue.rollout import RolloutQueuePublisher

        return RolloutQueuePublisher(self.primary.get_publisher(), self.secondary.get_publisher(), self.percent)


def queue_fields(settings: Settings) -> dict[str, Any]:
    """Queue names and ``PUBLISH_OUTCOMES``, shared by every queue resource."""
    outcomes = settings.outcome_queue_names
    return {"queue_name_free": settings.queue_name_free, "queue_name_pro": settings.queue_name_pro,
            "queue_name_outcomes_free": outcomes["free"], "queue_name_outcomes_pro": outcomes["pro"],
            "publish_outcomes": settings.publish_outcomes}


def celery_queue_resource(settings: Settings, *, from_env: bool) -> CeleryQueueResource:
    return CeleryQueueResource(
        broker_url=env_or("CELERY_BROKER_URL", settings.celery_broker_url, settings.celery_broker_url, from_env),
        max_publish_attempts=settings.queue_publish_max_attempts,
        publish_retry_cap_s=settings.retry_cap_s, **queue_fields(settings))


def sqs_queue_resource(settings: Settings, *, from_env: bool, consume_jobs: bool = True) -> SQSQueueResource:
    def var(name: str) -> Any:
        value = getattr(settings, name.lower())
        return env_or(name, value, value or "", from_env)

    return SQSQueueResource(
        queue_url_free=var("SQS_QUEUE_FREE_URL"), queue_url_pro=var("SQS_QUEUE_PRO_URL"),
        outcome_queue_url_free=var("SQS_OUTCOME_QUEUE_FREE_URL"), outcome_queue_url_pro=var("SQS_OUTCOME_QUEUE_PRO_URL"),
        region=settings.aws_region_name,
        endpoint_url=env_or("SQS_ENDPOINT_URL", settings.sqs_endpoint_url, settings.sqs_endpoint_url, from_env),
        max_batch_bytes=settings.sqs_max_batch_bytes,
        max_publish_attempts=settings.queue_publish_max_attempts,
        publish_retry_cap_s=settings.retry_cap_s,
        consume_jobs=consume_jobs,
        **queue_fields(settings),
    )


def sqs_jobs_resource(settings: Settings, *, from_env: bool) -> SQSQueueResource:
    """The SQS job queues when ``QUEUE_BACKEND`` or ``QUEUE_ROLLOUT_BACKEND`` is ``sqs``, else a
    disabled placeholder (the sensor skips)."""
    if "sqs" not in (settings.queue_backend, settings.queue_rollout_backend):
        return SQSQueueResource(consume_jobs=False)
    return sqs_queue_resource(settings, from_env=from_env)


#: Backends whose resource reads secrets through ``dg.EnvVar``; every other one is generic.
SECRET_BACKENDS = {"celery": celery_queue_resource, "sqs": sqs_queue_resource}


def backend_settings(settings: Settings, backend: str) -> dict[str, str]:
    """The settings a generic backend reads: its required ones and those named ``<backend>_*``."""
    names = set(REQUIRED.get(backend, ())) | set(REQUIRED_FOR_OUTCOMES.get(backend, ()))
    names |= {name for name in Settings.model_fields if name.startswith(f"{backend}_")}
    return {name: str(getattr(settings, name)) for name in sorted(names) if getattr(settings, name) is not None}


def backend_resource(settings: Settings, backend: str, *, from_env: bool) -> QueuePublisherResource:
    """One backend as a resource (no rollout)."""
    if backend in SECRET_BACKENDS:
        return SECRET_BACKENDS[backend](settings, from_env=from_env)
    if backend == "memory":
        return InMemoryQueueResource(**queue_fields(settings))
    return QueueBackendResource(queue_backend=backend, settings_fields=backend_settings(settings, backend),
                                queue_publish_max_attempts=settings.queue_publish_max_attempts,
                                retry_cap_s=settings.retry_cap_s, **queue_fields(settings))


def queue_resource(settings: Settings, *, from_env: bool) -> QueuePublisherResource:
    """``QUEUE_BACKEND`` (plus ``QUEUE_ROLLOUT_*``) as a resource, for ``publish_outcome`` and
    ``JobService``: jobs to the tier queues, outcomes to the outcome queues."""
    primary = backend_resource(settings, settings.queue_backend, from_env=from_env)
    rollout = settings.queue_rollout_backend
    if not rollout or settings.queue_rollout_percent <= 0:
        return primary
    return RolloutQueueResource(primary=primary, secondary=backend_resource(settings, rollout, from_env=from_env),
                                percent=settings.queue_rollout_percent, **queue_fields(settings))
