"""The publishing seam: what a queue message is, where it goes and what publishing returns.

A message id is the job id, so every backend recognises a re-publish. Jobs go to their tier's
job queue; outcomes (``feed.validated``) to the tier's outcome queue, and :class:`TierQueues`
refuses an outcome queue equal to a job queue, so an outcome never reaches a job consumer."""

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from jobs_pipeline.domain.errors import PublishError
from jobs_pipeline.domain.model import Tier, ValidationJob

#: Task / message type names shared by producers and consumers (producers never import workers).
VALIDATE_FEED_TASK = "jobs_pipeline.validate_feed"
FEED_VALIDATED = "feed.validated"
_OUTCOME_NS = uuid.UUID("6f0a3c9e-2b7d-4a51-8d4e-1c2b3a4d5e6f")

MessageKind = Literal["job", "outcome"]
#: Message types that are outcomes (for downstream consumers), never jobs to run.
OUTCOME_TASKS = frozenset({FEED_VALIDATED})
#: Default outcome queue name of a job queue (memory and Celery): ``pro`` -> ``pro.outcomes``.
OUTCOME_QUEUE_SUFFIX = ".outcomes"


def outcome_queue_name(job_queue: str) -> str:
    return f"{job_queue}{OUTCOME_QUEUE_SUFFIX}"


class QueueMessage(BaseModel):
    """A message for a tier's queue."""

    model_config = ConfigDict(frozen=True)

    message_id: str
    task: str
    tier: Tier
    partition_key: str
    body: dict[str, Any] = Field(default_factory=dict)

    @property
    def kind(self) -> MessageKind:
        """``outcome`` for outcome types (``feed.validated``), else ``job``: picks the queue set."""
        return "outcome" if self.task in OUTCOME_TASKS else "job"

    @classmethod
    def for_job(cls, job: ValidationJob) -> "QueueMessage":
        return cls(
            message_id=str(job.job_id),
            task=VALIDATE_FEED_TASK,
            tier=job.tier,
            partition_key=job.partition_key,
            body=job.to_message(),
        )

    @classmethod
    def feed_validated(cls, job: ValidationJob, outcome: dict[str, Any]) -> "QueueMessage":
        """The outcome of a job for downstream consumers (id derived from the job: idempotent)."""
        return cls(
            message_id=str(uuid.uuid5(_OUTCOME_NS, str(job.job_id))),
            task=FEED_VALIDATED,
            tier=job.tier,
            partition_key=job.partition_key,
            body={"job": job.to_message(), **outcome},
        )


@dataclass(frozen=True)
class TierQueues:
    """Each tier's job queue and outcome queue (names, or SQS URLs): the one routing table.

    ``outcomes=None`` derives ``<job queue>.outcomes`` (memory, Celery); a mapping gives them
    explicitly, and a tier missing from it (or empty) has no outcome queue: publishing an
    outcome there raises a ``PublishError`` (``hint`` says what to set), never falls back to
    the job queue. An outcome queue equal to a job queue is refused.
    """

    backend: str
    jobs: Mapping[str, str]
    outcomes: Mapping[str, str | None] | None = None
    hint: str = ""
    _outcomes: dict[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        outcomes = ({t: outcome_queue_name(q) for t, q in self.jobs.items()} if self.outcomes is None
                    else {t: q for t, q in self.outcomes.items() if q})
        shared = set(outcomes.values()) & set(self.jobs.values())
        if shared:
            raise ValueError(f"outcome queue(s) {sorted(shared)} are also job queues: outcomes would reach "
                             "the job consumers; give them their own queues")
        object.__setattr__(self, "_outcomes", outcomes)

    def queue_for(self, tier: Tier | str, kind: MessageKind = "job") -> str:
        """The queue of ``tier`` for ``kind`` (``ValueError`` for an unknown tier)."""
        name = Tier(tier).value
        queue = (self._outcomes if kind == "outcome" else self.jobs).get(name)
        if not queue:
            raise PublishError(f"no {kind} queue for tier {name!r}{self.hint.format(tier=name.upper(), kind=kind)}",
                               backend=self.backend, queue="?")
        return queue


class PublishReceipt(BaseModel):
    """Proof that the backend accepted a message."""

    model_config = ConfigDict(frozen=True)

    backend: str
    queue: str
    message_id: str
    broker_message_id: str | None = None
    duplicate: bool = False


@runtime_checkable
class QueuePublisher(Protocol):
    """Hands messages to a queue backend, each to ``queue_for(message.tier, message.kind)``.
    A failure raises ``PublishError``: never a silent loss."""

    backend: str

    def queue_for(self, tier: Tier, kind: MessageKind = "job") -> str: ...

    def publish(self, message: QueueMessage) -> PublishReceipt: ...

    def publish_batch(self, messages: Sequence[QueueMessage]) -> list[PublishReceipt]: ...

    def close(self) -> None: ...
