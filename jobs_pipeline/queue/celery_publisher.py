"""``CeleryQueuePublisher``: jobs as Celery tasks sent by name, JSON only, task id = job id.

It never imports worker code (``send_task`` on a bare app that knows only the broker). Celery's
own publish retry is off: :mod:`.publish_retry` asks the shared classifier, re-sends with the
same task id and ends in a ``PublishError`` naming backend and queue."""

from collections.abc import Sequence
from typing import TYPE_CHECKING

from celery import Celery

from jobs_pipeline.domain.model import Tier
from jobs_pipeline.queue.batching import BatchPublishError, FailedEntry
from jobs_pipeline.domain.errors import PublishError
from jobs_pipeline.queue.publish_retry import DEFAULT_CAP_S, publish_with_retry
from jobs_pipeline.queue.publisher import MessageKind, PublishReceipt, QueueMessage, TierQueues
from jobs_pipeline.queue.requirements import require

if TYPE_CHECKING:
    from jobs_pipeline.settings import Settings

#: Broker connection settings shared by the producer and the worker (``jobs_pipeline.worker``).
JSON_ONLY = {
    "task_serializer": "json",
    "result_serializer": "json",
    "accept_content": ["json"],
    "result_accept_content": ["json"],
}


def producer_app(broker_url: str, *, connect_timeout_s: float = 2.0) -> Celery:
    """A Celery app that can only send: no tasks registered, no result backend."""
    app = Celery("jobs_pipeline_producer", broker=broker_url, set_as_current=False)
    app.conf.update(
        **JSON_ONLY,
        task_publish_retry=False,
        broker_connection_timeout=connect_timeout_s,
        broker_transport_options={"socket_connect_timeout": connect_timeout_s,
                                  "socket_timeout": connect_timeout_s * 2},
        task_ignore_result=True,
    )
    return app


class CeleryQueuePublisher:
    backend = "celery"

    def __init__(self, broker_url: str, queue_names: dict[str, str] | None = None, *,
                 outcome_queue_names: dict[str, str] | None = None, max_attempts: int = 3,
                 retry_base_s: float = 0.1, retry_cap_s: float = DEFAULT_CAP_S, app: Celery | None = None) -> None:
        self.queue_names = {"free": "free", "pro": "pro", **(queue_names or {})}
        self.queues = TierQueues(self.backend, self.queue_names, outcome_queue_names)
        self.max_attempts = max_attempts
        self.retry_base_s = retry_base_s
        self.retry_cap_s = retry_cap_s
        self.app = app or producer_app(broker_url)

    @classmethod
    def from_settings(cls, settings: "Settings") -> "CeleryQueuePublisher":
        require(settings, "celery")
        return cls(settings.celery_broker_url or "",
                   {"free": settings.queue_name_free, "pro": settings.queue_name_pro},
                   outcome_queue_names=settings.outcome_queue_names,
                   max_attempts=settings.queue_publish_max_attempts, retry_cap_s=settings.retry_cap_s)

    def queue_for(self, tier: Tier, kind: MessageKind = "job") -> str:
        return self.queues.queue_for(tier, kind)

    def _send(self, message: QueueMessage, queue: str) -> str:
        result = self.app.send_task(
            message.task,
            args=[message.body],
            task_id=message.message_id,  # = job_id: a re-publish keeps the id
            queue=queue,
            routing_key=queue,
            serializer="json",
            retry=False,
            headers={"tier": Tier(message.tier).value, "partition_key": message.partition_key},
        )
        return result.id

    def publish(self, message: QueueMessage) -> PublishReceipt:
        queue = self.queue_for(message.tier, message.kind)
        task_id = publish_with_retry(lambda: self._send(message, queue), backend=self.backend, queue=queue,
                                     max_attempts=self.max_attempts, base_s=self.retry_base_s,
                                     cap_s=self.retry_cap_s)
        return PublishReceipt(backend=self.backend, queue=queue, message_id=message.message_id,
                              broker_message_id=task_id)

    def publish_batch(self, messages: Sequence[QueueMessage]) -> list[PublishReceipt]:
        """Celery has no batch send: one ``send_task`` each, over the pooled connection."""
        published: list[PublishReceipt] = []
        failed: list[FailedEntry] = []
        for i, message in enumerate(messages):
            try:
                published.append(self.publish(message))
            except PublishError as exc:
                # The broker failed past its retries: the rest would only wait out the same
                # retries, so they are reported as not queued instead of attempted.
                failed.append(FailedEntry(message, exc.reason))
                failed.extend(FailedEntry(m, "not sent: an earlier message of the batch failed")
                              for m in messages[i + 1:])
                break
        if failed:
            first = failed[0].message
            raise BatchPublishError(backend=self.backend, queue=self.queue_for(first.tier, first.kind),
                                    published=published, failed=failed)
        return published

    def close(self) -> None:
        self.app.close()
