"""The publishing seam: what a queue message is and what publishing returns.

A job is published as its JSON message (never pickle) with ``message_id = job_id``, so a
re-publish of the same job is recognisable by every backend (Celery task id, SQS FIFO
deduplication id, the in-memory dict).
"""

import uuid
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from jobs_pipeline.jobs.model import Tier, ValidationJob

#: Task / message type names shared by producers and consumers (producers never import workers).
VALIDATE_FEED_TASK = "jobs_pipeline.validate_feed"
FEED_VALIDATED = "feed.validated"
_OUTCOME_NS = uuid.UUID("6f0a3c9e-2b7d-4a51-8d4e-1c2b3a4d5e6f")


class QueueMessage(BaseModel):
    """A message for a tier's queue."""

    model_config = ConfigDict(frozen=True)

    message_id: str
    task: str
    tier: Tier
    partition_key: str
    body: dict[str, Any] = Field(default_factory=dict)

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
    """Hands messages to a queue backend. A failure raises ``PublishError``: never a silent loss."""

    backend: str

    def queue_for(self, tier: Tier) -> str: ...

    def publish(self, message: QueueMessage) -> PublishReceipt: ...

    def publish_batch(self, messages: Sequence[QueueMessage]) -> list[PublishReceipt]: ...

    def close(self) -> None: ...
