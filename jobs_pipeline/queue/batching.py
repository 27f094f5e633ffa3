"""Batch publishing helpers: the partial-failure error and size-bounded chunking.

A batch is not all-or-nothing on any broker (an SQS ``SendMessageBatch`` answers 200 with
some entries ``Failed``; a Celery loop can lose the broker half way). So a batch that could
not publish everything raises :class:`BatchPublishError`, which says exactly which messages
*were* queued (their receipts) and which were not (with the reason), so the caller can
re-publish only the failed ones: re-publishing keeps the job id, so it is safe either way.
"""

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

from jobs_pipeline.domain.errors import PublishError
from jobs_pipeline.queue.publisher import PublishReceipt, QueueMessage

T = TypeVar("T")


@dataclass(frozen=True)
class FailedEntry:
    message: QueueMessage
    reason: str
    code: str | None = None
    sender_fault: bool | None = None


class BatchPublishError(PublishError):
    """Some messages of a batch were not queued; ``published`` lists the ones that were."""

    def __init__(self, *, backend: str, queue: str, published: Sequence[PublishReceipt],
                 failed: Sequence[FailedEntry]) -> None:
        first = failed[0]
        super().__init__(
            f"{len(failed)} of {len(failed) + len(published)} message(s) not queued; "
            f"first: {first.message.message_id}: {first.reason}",
            backend=backend, queue=queue,
        )
        self.published = list(published)
        self.failed = list(failed)


def chunk(items: Iterable[T], *, max_entries: int, max_bytes: int, size: Callable[[T], int]) -> Iterator[list[T]]:
    """Consecutive chunks of at most ``max_entries`` items and ``max_bytes`` total size.

    An item larger than ``max_bytes`` on its own is yielded alone (the caller rejects it
    with a clear error instead of this function looping or silently dropping it).
    """
    current: list[T] = []
    total = 0
    for item in items:
        n = size(item)
        if current and (len(current) >= max_entries or total + n > max_bytes):
            yield current
            current, total = [], 0
        current.append(item)
        total += n
    if current:
        yield current
