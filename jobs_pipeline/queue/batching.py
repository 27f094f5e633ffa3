"""Batch publishing helpers: the partial-failure error and size-bounded chunking.

No broker publishes a batch all-or-nothing, so :class:`BatchPublishError` says which messages
were queued and which were not, and the caller re-publishes only those (same job ids: safe)."""

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
