"""``SQSQueuePublisher``: jobs as SQS messages through boto3, one queue per tier.

Bodies are the job's JSON with routing attributes; FIFO queues group by partition key and
de-duplicate by job id; batches are cut at 10 entries and ``max_batch_bytes``, and each
``Failed`` entry is retried alone or reported. botocore's retries are off: the shared
classifier decides (:mod:`.publish_retry`). Configuration: docs/queue-migration.md."""

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from botocore.config import Config

from jobs_pipeline.domain.errors import PublishError
from jobs_pipeline.domain.model import MESSAGE_SCHEMA_VERSION, Tier
from jobs_pipeline.queue.batching import BatchPublishError, FailedEntry, chunk
from jobs_pipeline.queue.publish_retry import DEFAULT_CAP_S, publish_with_retry
from jobs_pipeline.queue.publisher import MessageKind, PublishReceipt, QueueMessage, TierQueues
from jobs_pipeline.queue.requirements import require
from jobs_pipeline.storage.client import aws_client

if TYPE_CHECKING:
    from jobs_pipeline.settings import Settings

MAX_BATCH_ENTRIES = 10
SQS_MAX_BYTES = 1_048_576
DEFAULT_MAX_BATCH_BYTES = 262_144


def sqs_client(*, region: str | None, endpoint_url: str | None = None) -> Any:
    """A boto3 SQS client with short timeouts and no botocore retries (ours decide); its
    botocore DEBUG logs are redacted (``aws_client``)."""
    config = Config(connect_timeout=3, read_timeout=20, retries={"total_max_attempts": 1, "mode": "standard"})
    return aws_client("sqs", region=region, endpoint_url=endpoint_url, config=config)


def is_fifo(queue_url: str) -> bool:
    return queue_url.endswith(".fifo")


def message_attributes(message: QueueMessage) -> dict[str, dict[str, str]]:
    schema = message.body.get("schema_version", MESSAGE_SCHEMA_VERSION)
    return {
        "task": {"DataType": "String", "StringValue": message.task},
        "tier": {"DataType": "String", "StringValue": Tier(message.tier).value},
        "partition_key": {"DataType": "String", "StringValue": message.partition_key},
        "message_id": {"DataType": "String", "StringValue": message.message_id},
        "schema_version": {"DataType": "Number", "StringValue": str(schema)},
    }


def encode(message: QueueMessage, queue_url: str) -> dict[str, Any]:
    """The ``SendMessage`` parameters of one message (without ``QueueUrl``)."""
    params: dict[str, Any] = {
        "MessageBody": json.dumps(message.body, separators=(",", ":"), ensure_ascii=False),
        "MessageAttributes": message_attributes(message),
    }
    if is_fifo(queue_url):
        params["MessageGroupId"] = message.partition_key
        params["MessageDeduplicationId"] = message.message_id
    return params


def encoded_size(params: dict[str, Any]) -> int:
    """Bytes SQS counts against its size limit: body plus attribute names, types and values."""
    size = len(params["MessageBody"].encode())
    for name, attr in params.get("MessageAttributes", {}).items():
        size += len(name.encode()) + len(attr["DataType"].encode()) + len(attr["StringValue"].encode())
    return size


class SQSQueuePublisher:
    backend = "sqs"

    def __init__(self, queue_urls: dict[str, str], *, outcome_queue_urls: dict[str, str | None] | None = None,
                 region: str | None = None, endpoint_url: str | None = None,
                 max_batch_bytes: int = DEFAULT_MAX_BATCH_BYTES, max_attempts: int = 3,
                 retry_base_s: float = 0.1, retry_cap_s: float = DEFAULT_CAP_S, client: Any = None) -> None:
        missing = [t for t in ("free", "pro") if not queue_urls.get(t)]
        if missing:
            raise PublishError(f"no queue URL for tier(s) {missing}", backend=self.backend, queue="?")
        if not 0 < max_batch_bytes <= SQS_MAX_BYTES:
            raise ValueError(f"max_batch_bytes must be in (0, {SQS_MAX_BYTES}]")
        self.queue_urls = dict(queue_urls)
        # No outcome URL = no outcome queue (an outcome then fails to publish): never "<url>.outcomes".
        self.queues = TierQueues(self.backend, self.queue_urls, dict(outcome_queue_urls or {}),
                                 hint=" (set SQS_OUTCOME_QUEUE_{tier}_URL, or PUBLISH_OUTCOMES=false)")
        self.max_batch_bytes = max_batch_bytes
        self.max_attempts = max_attempts
        self.retry_base_s = retry_base_s
        self.retry_cap_s = retry_cap_s
        self.client = client or sqs_client(region=region, endpoint_url=endpoint_url)

    @classmethod
    def from_settings(cls, settings: "Settings") -> "SQSQueuePublisher":
        require(settings, "sqs")
        return cls({"free": settings.sqs_queue_free_url or "", "pro": settings.sqs_queue_pro_url or ""},
                   outcome_queue_urls={"free": settings.sqs_outcome_queue_free_url,
                                       "pro": settings.sqs_outcome_queue_pro_url},
                   region=settings.aws_region_name, endpoint_url=settings.sqs_endpoint_url,
                   max_batch_bytes=settings.sqs_max_batch_bytes,
                   max_attempts=settings.queue_publish_max_attempts, retry_cap_s=settings.retry_cap_s)

    def queue_for(self, tier: Tier, kind: MessageKind = "job") -> str:
        return self.queues.queue_for(tier, kind)

    def _receipt(self, message: QueueMessage, queue: str, broker_id: str | None) -> PublishReceipt:
        return PublishReceipt(backend=self.backend, queue=queue, message_id=message.message_id,
                              broker_message_id=broker_id)

    def _checked(self, message: QueueMessage, queue: str) -> dict[str, Any]:
        params = encode(message, queue)
        size = encoded_size(params)
        if size > self.max_batch_bytes:
            raise PublishError(f"message {message.message_id} is {size} bytes, over the {self.max_batch_bytes}-byte "
                               "limit (SQS_MAX_BATCH_BYTES)", backend=self.backend, queue=queue)
        return params

    def publish(self, message: QueueMessage) -> PublishReceipt:
        queue = self.queue_for(message.tier, message.kind)
        params = self._checked(message, queue)
        answer = publish_with_retry(lambda: self.client.send_message(QueueUrl=queue, **params),
                                    backend=self.backend, queue=queue, max_attempts=self.max_attempts,
                                    base_s=self.retry_base_s, cap_s=self.retry_cap_s)
        return self._receipt(message, queue, answer.get("MessageId"))

    def publish_batch(self, messages: Sequence[QueueMessage]) -> list[PublishReceipt]:
        """Receipts in the order of ``messages``; raises :class:`BatchPublishError` if any failed."""
        receipts: dict[int, PublishReceipt] = {}
        failed: list[FailedEntry] = []
        by_queue: dict[str, list[tuple[int, QueueMessage, dict[str, Any]]]] = {}
        for i, message in enumerate(messages):
            try:
                queue = self.queue_for(message.tier, message.kind)
            except PublishError as exc:  # an outcome with no outcome queue configured
                failed.append(FailedEntry(message, exc.reason, sender_fault=True))
                continue
            try:
                by_queue.setdefault(queue, []).append((i, message, self._checked(message, queue)))
            except PublishError as exc:
                failed.append(FailedEntry(message, exc.reason, code="MessageTooLong", sender_fault=True))
        broken_queues: set[str] = set()
        for queue, entries in by_queue.items():
            for part in chunk(entries, max_entries=MAX_BATCH_ENTRIES, max_bytes=self.max_batch_bytes,
                              size=lambda e: encoded_size(e[2])):
                if queue in broken_queues:
                    failed.extend(FailedEntry(m, "not sent: an earlier batch to this queue failed") for _, m, _ in part)
                    continue
                try:
                    self._send_batch(queue, part, receipts, failed)
                except PublishError as exc:
                    broken_queues.add(queue)
                    failed.extend(FailedEntry(m, exc.reason) for _, m, _ in part)
        if failed:
            published = [receipts[i] for i in sorted(receipts)]
            first = failed[0].message
            try:
                queue = self.queue_for(first.tier, first.kind)
            except PublishError as exc:
                queue = exc.queue
            raise BatchPublishError(backend=self.backend, queue=queue,
                                    published=published, failed=failed)
        return [receipts[i] for i in range(len(messages))]

    def _send_batch(self, queue: str, part: list[tuple[int, QueueMessage, dict[str, Any]]],
                    receipts: dict[int, PublishReceipt], failed: list[FailedEntry]) -> None:
        entries = [{"Id": str(n), **params} for n, (_, _, params) in enumerate(part)]
        answer = publish_with_retry(lambda: self.client.send_message_batch(QueueUrl=queue, Entries=entries),
                                    backend=self.backend, queue=queue, max_attempts=self.max_attempts,
                                    base_s=self.retry_base_s, cap_s=self.retry_cap_s)
        for ok in answer.get("Successful", []):
            index, message, _ = part[int(ok["Id"])]
            receipts[index] = self._receipt(message, queue, ok.get("MessageId"))
        for bad in answer.get("Failed", []):
            index, message, _ = part[int(bad["Id"])]
            code, sender_fault = bad.get("Code"), bool(bad.get("SenderFault"))
            if sender_fault:  # the entry itself is wrong: the same bytes would fail again
                failed.append(FailedEntry(message, f"{code}: rejected by SQS", code=code, sender_fault=True))
                continue
            try:  # SQS's side failed for this entry: retry it alone (same dedup id on FIFO)
                receipts[index] = self.publish(message)
            except PublishError as exc:
                failed.append(FailedEntry(message, exc.reason, code=code, sender_fault=False))
        answered = {int(e["Id"]) for e in answer.get("Successful", []) + answer.get("Failed", [])}
        for n, (_, message, _) in enumerate(part):
            if n not in answered:  # never assume: an entry SQS did not mention was not queued
                failed.append(FailedEntry(message, "missing from the SendMessageBatch answer"))

    def close(self) -> None:
        self.client.close()
