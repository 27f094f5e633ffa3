"""Delays between delivery attempts: full-jitter exponential backoff, or what the server
asked for with ``Retry-After`` (seconds or an HTTP-date), which a sender MUST observe."""

import random
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


def full_jitter(failures: int, *, base_s: float, cap_s: float, rng: random.Random) -> float:
    """``uniform(0, min(cap, base * 2**(failures-1)))`` (AWS "full jitter")."""
    ceiling = min(cap_s, base_s * (2 ** max(0, failures - 1)))
    return rng.uniform(0, ceiling)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value; ``None`` when absent or unreadable."""
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
