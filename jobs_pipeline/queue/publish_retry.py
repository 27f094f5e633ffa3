"""Retry a publish call on transient broker errors only, then fail loudly.

Both real publishers hand their broker call to :func:`publish_with_retry`: the shared
classifier (:mod:`jobs_pipeline.domain.transient`, by type and structured fields, never message
text) decides. A refused connection or a throttled call is retried with a short backoff;
anything permanent (bad credentials, an encode error, a missing queue) fails at once. The
caller passes a function that re-sends the *same* message (same Celery task id, same SQS
deduplication id), so a retry after an ambiguous failure never creates a second job id.
The final failure is a :class:`PublishError` naming the backend and queue: never a silent loss.

- A server's ``Retry-After`` (``Classification.retry_after_s``) is a floor of the wait, capped
  at ``cap_s`` (``RETRY_CAP_S``, the retry policy's cap): a server may ask for hours.
- When the attempts are used up the error is :class:`PublishRetriesExhausted`, which declares
  itself permanent: the retrying happened here, so no outer loop (the ``publish_outcome`` op)
  retries it again and multiplies the attempts.
"""

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from jobs_pipeline.domain.errors import PublishError, PublishRetriesExhausted
from jobs_pipeline.domain.retry import ExponentialRetryPolicy
from jobs_pipeline.domain.transient import Classification, ErrorClass, classify

logger = logging.getLogger(__name__)
T = TypeVar("T")

#: ``RETRY_CAP_S``'s default: the retry policy's cap (publishers built from settings pass theirs).
DEFAULT_CAP_S: float = ExponentialRetryPolicy.cap_s


def backoff_s(attempt: int, kind: ErrorClass, base_s: float) -> float:
    """Short, bounded wait: publishing is on the caller's request path."""
    base = base_s * (5 if kind is ErrorClass.THROTTLED else 1)
    return min(base * 2 ** (attempt - 1), 2.0)


def delay_s(verdict: Classification, attempt: int, base_s: float, cap_s: float = DEFAULT_CAP_S) -> float:
    """The wait before the next attempt: the short backoff, or the server's ``Retry-After``
    when longer, never more than ``cap_s``."""
    delay = backoff_s(attempt, verdict.kind, base_s)
    if verdict.retry_after_s is not None:
        delay = max(delay, verdict.retry_after_s)
    return min(delay, cap_s)


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
