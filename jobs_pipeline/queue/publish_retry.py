"""Retry a publish call on transient broker errors only, then fail loudly.

Both real publishers hand their broker call to :func:`publish_with_retry`, which asks the
shared classifier, waits by the shared backoff (short, on the caller's request path) and ends
with a :class:`PublishError` naming the backend and queue, never a silent loss. Details:
docs/retries.md.
"""

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from jobs_pipeline.domain.backoff import backoff_delay
from jobs_pipeline.domain.errors import PublishError, PublishRetriesExhausted
from jobs_pipeline.domain.retry import ExponentialRetryPolicy
from jobs_pipeline.domain.transient import Classification, ErrorClass, classify

logger = logging.getLogger(__name__)
T = TypeVar("T")

#: ``RETRY_CAP_S``'s default: the retry policy's cap (publishers built from settings pass theirs).
DEFAULT_CAP_S: float = ExponentialRetryPolicy.cap_s


#: Longest backoff between publish attempts when the server did not ask for more.
BACKOFF_CAP_S = 2.0
#: Throttling waits from a longer base, as the job retry policy does.
THROTTLE_FACTOR = 5


def delay_s(verdict: Classification, attempt: int, base_s: float, cap_s: float = DEFAULT_CAP_S) -> float:
    """The wait before the next attempt: the exponential backoff without jitter (at most
    ``BACKOFF_CAP_S``), or the server's ``Retry-After`` when longer, never more than ``cap_s``."""
    base = base_s * (THROTTLE_FACTOR if verdict.kind is ErrorClass.THROTTLED else 1)
    return backoff_delay(attempt, base_s=base, cap_s=min(BACKOFF_CAP_S, cap_s), jitter=False,
                         retry_after_s=verdict.retry_after_s, retry_after_cap_s=cap_s)


def publish_with_retry(send: Callable[[], T], *, backend: str, queue: str, max_attempts: int = 3,
                       base_s: float = 0.1, cap_s: float = DEFAULT_CAP_S,
                       sleep: Callable[[float], None] = time.sleep) -> T:
    """``send()``; on a transient failure try again (up to ``max_attempts`` in all)."""
    attempt = 1
    while True:
        try:
            return send()
        except PublishError:
            raise
        except Exception as exc:
            verdict = classify(exc)
            if not verdict.retryable:
                raise PublishError(f"{type(exc).__name__} ({verdict.reason}); not retried",
                                   backend=backend, queue=queue) from exc
            if attempt >= max_attempts:
                raise PublishRetriesExhausted(f"{type(exc).__name__} ({verdict.reason}) after {attempt} attempts",
                                              backend=backend, queue=queue, attempts=attempt) from exc
            delay = delay_s(verdict, attempt, base_s, cap_s)
            logger.warning("%s publish to %s failed (%s), attempt %d/%d; retrying in %.2fs",
                           backend, queue, verdict.reason, attempt, max_attempts, delay)
            sleep(delay)
            attempt += 1
