"""Receiving and deleting job messages on SQS (the consuming side of :mod:`.sqs`).

Kept apart from Dagster so the sensor stays a thin wrapper: this module knows SQS calls
and the message format; the sensor decides *when* a message may be deleted (only after
Dagster recorded its run). A body that is not a job is returned as ``error`` rather than
raised, so one bad message never stops the others; it is never deleted here.
"""

import json
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from jobs_pipeline.domain.model import ValidationJob
from jobs_pipeline.queue.publisher import VALIDATE_FEED_TASK

MAX_RECEIVE = 10  # SQS's per-call maximum


@dataclass(frozen=True)
class ReceivedMessage:
    queue_url: str
    sqs_message_id: str
    receipt_handle: str
    body: str
    attributes: dict[str, str]
    receive_count: int

    def job(self) -> ValidationJob:
        """The job this message carries; raises ``ValueError`` if it carries none."""
        task = self.attributes.get("task", VALIDATE_FEED_TASK)
        if task != VALIDATE_FEED_TASK:
            raise ValueError(f"task attribute {task!r} is not {VALIDATE_FEED_TASK!r}")
        try:
            data = json.loads(self.body)
            if not isinstance(data, dict):
                raise ValueError("body is not a JSON object")
            return ValidationJob.from_message(data)
        except (json.JSONDecodeError, ValidationError, TypeError) as exc:
            raise ValueError(f"body is not a validation job ({type(exc).__name__})") from exc


def receive(client: Any, queue_url: str, *, max_messages: int, visibility_timeout_s: int,
            wait_s: int = 0) -> list[ReceivedMessage]:
    """Up to ``max_messages`` messages (several calls of at most 10), hidden for the timeout."""
    out: list[ReceivedMessage] = []
    while len(out) < max_messages:
        answer = client.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=min(MAX_RECEIVE, max_messages - len(out)),
            VisibilityTimeout=visibility_timeout_s, WaitTimeSeconds=wait_s,
            MessageAttributeNames=["All"], MessageSystemAttributeNames=["ApproximateReceiveCount"],
        )
        batch = answer.get("Messages", [])
        for m in batch:
            attrs = {k: v.get("StringValue", "") for k, v in (m.get("MessageAttributes") or {}).items()}
            out.append(ReceivedMessage(
                queue_url=queue_url, sqs_message_id=m["MessageId"], receipt_handle=m["ReceiptHandle"],
                body=m.get("Body", ""), attributes=attrs,
                receive_count=int((m.get("Attributes") or {}).get("ApproximateReceiveCount", "1")),
            ))
        if len(batch) == 0:
            break
    return out


def delete(client: Any, queue_url: str, receipt_handles: list[str]) -> list[str]:
    """Delete by receipt handle (batches of 10); returns the handles SQS did not delete."""
    failed: list[str] = []
    for start in range(0, len(receipt_handles), MAX_RECEIVE):
        part = receipt_handles[start:start + MAX_RECEIVE]
        answer = client.delete_message_batch(
            QueueUrl=queue_url, Entries=[{"Id": str(i), "ReceiptHandle": h} for i, h in enumerate(part)])
        failed.extend(part[int(f["Id"])] for f in answer.get("Failed", []))
    return failed
