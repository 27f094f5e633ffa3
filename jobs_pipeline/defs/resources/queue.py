"""Queue publisher resources, one ``ConfigurableResource`` subclass per backend (memory,
Celery, SQS, rollout), and the builders that pick one from settings. Ops depend on the
:class:`QueuePublisherResource` base type; deployments choose the subclass."""

import threading
from abc import ABC, abstractmethod
from typing import Any

import dagster as dg

from jobs_pipeline.queue.memory import InMemoryQueuePublisher
from jobs_pipeline.queue.publisher import QueuePublisher, outcome_queue_name
from jobs_pipeline.settings import Settings


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
