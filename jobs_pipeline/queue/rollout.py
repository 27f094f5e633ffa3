"""``RolloutQueuePublisher``: a fixed share of jobs to a second backend during a migration.

The share is decided by a hash of the message id, not by chance, so a retried or re-published
job always goes to the same backend, and raising the percentage only moves jobs one way
(runbook: docs/queue-migration.md)."""

import hashlib
from collections.abc import Sequence

from jobs_pipeline.domain.model import Tier
from jobs_pipeline.queue.publisher import MessageKind, PublishReceipt, QueueMessage, QueuePublisher

BUCKETS = 10_000  # 0.01 % resolution


def bucket(message_id: str) -> int:
    """Stable bucket in [0, BUCKETS) of an id (same on every host and Python version)."""
    digest = hashlib.sha256(message_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


class RolloutQueuePublisher:
    backend = "rollout"

    def __init__(self, primary: QueuePublisher, secondary: QueuePublisher, percent: float) -> None:
        if not 0 <= percent <= 100:
            raise ValueError("percent must be within [0, 100]")
        self.primary = primary
        self.secondary = secondary
        self.percent = percent

    def choose(self, message_id: str) -> QueuePublisher:
        return self.secondary if bucket(message_id) < self.percent * BUCKETS / 100 else self.primary

    def queue_for(self, tier: Tier, kind: MessageKind = "job") -> str:
        """The primary's queue (a message's actual queue is on its receipt)."""
        return self.primary.queue_for(tier, kind)

    def publish(self, message: QueueMessage) -> PublishReceipt:
        return self.choose(message.message_id).publish(message)

    def publish_batch(self, messages: Sequence[QueueMessage]) -> list[PublishReceipt]:
        """Each backend gets its share as one batch; receipts come back in input order.

        If a backend's batch fails, its ``BatchPublishError`` propagates as is (the other
        backend's messages were queued and are listed in neither error: re-publishing all of
        them is safe, as every backend keeps the job id)."""
        sides: dict[int, list[int]] = {}
        for i, m in enumerate(messages):
            sides.setdefault(id(self.choose(m.message_id)), []).append(i)
        receipts: dict[int, PublishReceipt] = {}
        for publisher in (self.primary, self.secondary):
            indices = sides.get(id(publisher), [])
            if indices:
                for i, r in zip(indices, publisher.publish_batch([messages[i] for i in indices])):
                    receipts[i] = r
        return [receipts[i] for i in range(len(messages))]

    def close(self) -> None:
        try:
            self.primary.close()
        finally:
            self.secondary.close()
