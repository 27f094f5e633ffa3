"""The one backoff function: capped full-jitter exponential, Retry-After as a capped floor."""

import random

import pytest
from hypothesis import given, settings as hsettings, strategies as st

from jobs_pipeline.domain.backoff import backoff_ceiling, backoff_delay


def test_the_ceiling_doubles_from_the_base_up_to_the_cap() -> None:
    assert [backoff_ceiling(a, base_s=0.5, cap_s=3) for a in (1, 2, 3, 4, 5)] == [0.5, 1, 2, 3, 3]
    assert backoff_ceiling(10_000, base_s=1, cap_s=60) == 60  # no overflow
    assert backoff_ceiling(0, base_s=1, cap_s=60) == 1  # attempts below 1 count as the first


@hsettings(max_examples=200, deadline=None)
@given(attempt=st.integers(1, 100), base=st.floats(0, 10), cap=st.floats(0, 120), seed=st.integers(0, 2**32))
def test_full_jitter_stays_within_the_ceiling(attempt, base, cap, seed) -> None:
    delay = backoff_delay(attempt, base_s=base, cap_s=cap, rng=random.Random(seed))
    assert 0 <= delay <= backoff_ceiling(attempt, base_s=base, cap_s=cap)


def test_without_jitter_the_delay_is_the_ceiling() -> None:
    assert backoff_delay(3, base_s=0.1, cap_s=2, jitter=False) == pytest.approx(0.4)


@pytest.mark.parametrize("retry_after, cap, ra_cap, expected", [
    (30, 60, None, 30),     # the server's floor
    (7200, 60, None, 60),   # capped at the cap
    (7200, 2, 300, 300),    # or at its own cap (the HTTP sink's max_retry_after_s)
    (0, 60, None, 0.5),     # no real wait asked: the backoff (here without jitter)
])
def test_retry_after_is_a_capped_floor(retry_after, cap, ra_cap, expected) -> None:
    delay = backoff_delay(1, base_s=0.5, cap_s=cap, jitter=False, retry_after_s=retry_after,
                          retry_after_cap_s=ra_cap)
    assert delay == expected
