"""ExponentialRetryPolicy: who is retried, how often, after how long; built from RETRY_*."""

import errno
import random

import pytest
from botocore.exceptions import ClientError
from hypothesis import given, settings as hsettings, strategies as st

from jobs_pipeline.domain.errors import FeedFormatError
from jobs_pipeline.domain.retry import ExponentialRetryPolicy, NeverRetry
from jobs_pipeline.settings import SettingsError, load_settings
from jobs_pipeline.domain.transient import ErrorClass

THROTTLED = ClientError({"Error": {"Code": "SlowDown"}, "ResponseMetadata": {"HTTPStatusCode": 503}}, "PutObject")


def test_transient_is_retried_until_max_attempts() -> None:
    policy = ExponentialRetryPolicy(max_attempts=3, base_s=1, throttle_base_s=5, cap_s=60)
    exc = ConnectionRefusedError(errno.ECONNREFUSED, "refused")
    first, second, third = (policy.decide(exc, a) for a in (1, 2, 3))
    assert first.retry and second.retry and not third.retry
    assert {d.classification for d in (first, second, third)} == {"transient"}
    assert {d.max_attempts for d in (first, second, third)} == {3}
    assert "gave up after 3" in third.reason


def test_permanent_fails_at_once() -> None:
    decision = ExponentialRetryPolicy(max_attempts=5).decide(FeedFormatError("empty"), 1)
    assert not decision.retry and decision.classification == "permanent" and decision.delay_s == 0


def test_never_retry_still_reports_the_classification() -> None:
    decision = NeverRetry().decide(TimeoutError(), 1)
    assert not decision.retry and decision.classification == "transient"


@hsettings(max_examples=200, deadline=None)
@given(attempt=st.integers(1, 80), seed=st.integers(0, 2**32), throttled=st.booleans(),
       base=st.floats(0, 10), tbase=st.floats(0, 30), cap=st.floats(0, 120))
def test_full_jitter_stays_within_the_capped_exponential(attempt, seed, throttled, base, tbase, cap) -> None:
    policy = ExponentialRetryPolicy(max_attempts=100, base_s=base, throttle_base_s=tbase, cap_s=cap,
                                    rng=random.Random(seed))
    exc = THROTTLED if throttled else TimeoutError()
    decision = policy.decide(exc, attempt)
    ceiling = min(cap, (tbase if throttled else base) * 2 ** (attempt - 1))
    assert decision.retry
    assert 0 <= decision.delay_s <= ceiling
    assert decision.classification == ("throttled" if throttled else "transient")


def test_throttling_gets_the_longer_base() -> None:
    policy = ExponentialRetryPolicy(base_s=1, throttle_base_s=5, cap_s=60)
    assert policy.backoff_ceiling(ErrorClass.TRANSIENT, 1) == 1
    assert policy.backoff_ceiling(ErrorClass.THROTTLED, 1) == 5
    assert policy.backoff_ceiling(ErrorClass.THROTTLED, 3) == 20
    assert policy.backoff_ceiling(ErrorClass.THROTTLED, 10) == 60  # capped


def test_jitter_is_spread_not_constant() -> None:
    policy = ExponentialRetryPolicy(max_attempts=10, base_s=1, cap_s=60, rng=random.Random(1))
    delays = {round(policy.decide(TimeoutError(), 4).delay_s, 6) for _ in range(50)}
    assert len(delays) > 40 and max(delays) <= 8


def test_retry_after_is_a_floor_under_the_cap() -> None:
    import httpx

    request = httpx.Request("POST", "http://127.0.0.1/e")
    exc = httpx.HTTPStatusError("x", request=request,
                                response=httpx.Response(429, headers={"Retry-After": "30"}, request=request))
    assert ExponentialRetryPolicy(base_s=0.001, throttle_base_s=0.001, cap_s=60).decide(exc, 1).delay_s == 30
    assert ExponentialRetryPolicy(base_s=0.001, throttle_base_s=0.001, cap_s=10).decide(exc, 1).delay_s == 10


RETRY_VARS = ("RETRY_MAX_ATTEMPTS", "RETRY_BASE_S", "RETRY_THROTTLE_BASE_S", "RETRY_CAP_S")


@pytest.fixture
def clean_env(data_dir, monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for var in RETRY_VARS:
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


def test_built_from_the_environment(clean_env: pytest.MonkeyPatch) -> None:
    monkeypatch = clean_env
    monkeypatch.setenv("RETRY_MAX_ATTEMPTS", "5")
    monkeypatch.setenv("RETRY_BASE_S", "0.5")
    monkeypatch.setenv("RETRY_THROTTLE_BASE_S", "4")
    monkeypatch.setenv("RETRY_CAP_S", "30")
    policy = ExponentialRetryPolicy.from_settings(load_settings())
    assert (policy.max_attempts, policy.base_s, policy.throttle_base_s, policy.cap_s) == (5, 0.5, 4, 30)


def test_bad_retry_settings_name_the_variable(clean_env: pytest.MonkeyPatch) -> None:
    monkeypatch = clean_env
    monkeypatch.setenv("RETRY_MAX_ATTEMPTS", "0")
    with pytest.raises(SettingsError) as info:
        load_settings()
    assert "RETRY_MAX_ATTEMPTS" in str(info.value)


def test_defaults(clean_env: pytest.MonkeyPatch) -> None:
    policy = ExponentialRetryPolicy.from_settings(load_settings())
    assert (policy.max_attempts, policy.base_s, policy.throttle_base_s, policy.cap_s) == (3, 1.0, 5.0, 60.0)
    with pytest.raises(ValueError):
        ExponentialRetryPolicy(max_attempts=0)
