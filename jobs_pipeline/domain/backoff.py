"""The one backoff function every retry loop uses, and ``Retry-After`` parsing.

Full-jitter exponential backoff with a cap; a server's ``Retry-After`` is a floor of the
wait (itself capped). See docs/retries.md for who calls it with which numbers.
"""

import random
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

_MAX_EXPONENT = 62  # no float overflow on absurd attempt numbers


def backoff_ceiling(attempt: int, *, base_s: float, cap_s: float) -> float:
    """The largest wait after failed ``attempt`` (1-based): ``min(cap, base * 2**(attempt-1))``."""
    exponent = min(max(attempt, 1) - 1, _MAX_EXPONENT)
    return min(cap_s, base_s * (2.0 ** exponent))


def backoff_delay(attempt: int, *, base_s: float, cap_s: float, rng: random.Random | None = None,
                  jitter: bool = True, retry_after_s: float | None = None,
                  retry_after_cap_s: float | None = None) -> float:
    """The wait after failed ``attempt``: ``uniform(0, ceiling)`` (AWS "full jitter"; the
    ceiling itself with ``jitter=False``), never less than ``retry_after_s`` when the server
    sent one, which is capped at ``retry_after_cap_s`` (default ``cap_s``)."""
    ceiling = backoff_ceiling(attempt, base_s=base_s, cap_s=cap_s)
    delay = (rng or random).uniform(0.0, ceiling) if jitter else ceiling
    if retry_after_s is not None:
        floor_cap = cap_s if retry_after_cap_s is None else retry_after_cap_s
        delay = max(delay, min(retry_after_s, floor_cap))
    return delay


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (seconds or an HTTP-date); ``None`` when
    absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
