"""Thread-safe in-memory publisher for tests and the local demo.

Messages live in this process only (like kombu's ``memory://``): use it with the in-process
executor, never across processes. Re-publishing a ``message_id`` keeps one copy. Outcomes
go to the tier's outcome queue (``<job queue>.outcomes`` unless named), like every backend.
"""

import threading
from collections.abc import Sequence

from jobs_pipeline.domain.model import Tier
from jobs_pipeline.queue.publisher import MessageKind, PublishReceipt, QueueMessage, TierQueues


class InMemoryQueuePublisher:
    backend = "memory"

    def __init__(self, queue_names: dict[str, str] | None = None,
                 outcome_queue_names: dict[str, str] | None = None) -> None:
        self.queue_names = {"free": "free", "pro": "pro", **(queue_names or {})}
        self.queues = TierQueues(self.backend, self.queue_names, outcome_queue_names)
        self._lock = threading.Lock()
        self._queues: dict[str, list[QueueMessage]] = {}
        self._seen: dict[str, PublishReceipt] = {}

    def queue_for(self, tier: Tier, kind: MessageKind = "job") -> str:
        return self.queues.queue_for(tier, kind)

    def publish(self, message: QueueMessage) -> PublishReceipt:
        queue = self.queue_for(message.tier, message.kind)
        with self._lock:
            known = self._seen.get(message.message_id)
            if known is not None:
                return known.model_copy(update={"duplicate": True})
            self._queues.setdefault(queue, []).append(message)
            receipt = PublishReceipt(
                backend=self.backend, queue=queue, message_id=message.message_id,
                broker_message_id=message.message_id,
            )
            self._seen[message.message_id] = receipt
            return receipt

    def publish_batch(self, messages: Sequence[QueueMessage]) -> list[PublishReceipt]:
        return [self.publish(m) for m in messages]

    def close(self) -> None:
        return None

    def messages(self, queue: str) -> list[QueueMessage]:
        with self._lock:
            return list(self._queues.get(queue, []))

    def drain(self, queue: str) -> list[QueueMessage]:
        """Take every message of one queue (a consumer's view)."""
        with self._lock:
            return self._queues.pop(queue, [])
