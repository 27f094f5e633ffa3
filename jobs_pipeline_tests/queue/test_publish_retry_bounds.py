"""Bounds of the publishers' own retries: a server's ``Retry-After`` is capped at
``RETRY_CAP_S``, and a publish that used up its attempts is final for every outer retry loop
(the ``publish_outcome`` op does not multiply the attempts)."""

import json
import logging
import socket
import uuid

import httpx
import pytest
import redis

from jobs_pipeline.defs.resources.deployments import resources_for
from jobs_pipeline.defs.resources.job_service import JobServiceResource
from jobs_pipeline.defs.resources.queue import CeleryQueueResource
from jobs_pipeline.defs.feeds.validate_feed import validate_feed
from jobs_pipeline.domain.errors import PublishError, PublishRetriesExhausted
from jobs_pipeline.domain.model import JobContext, ValidationJob
from jobs_pipeline.domain.retry import ExponentialRetryPolicy
from jobs_pipeline.queue.celery_publisher import CeleryQueuePublisher
from jobs_pipeline.queue.publish_retry import DEFAULT_CAP_S, publish_with_retry
from jobs_pipeline.queue.publisher import QueueMessage
from jobs_pipeline.demo.samples import DEMO_FEEDS, write_sample
from jobs_pipeline.settings import load_settings
from jobs_pipeline.domain.transient import ErrorClass, classify
from jobs_pipeline_tests import services
from jobs_pipeline_tests.dagster_helpers import feed_run_config

RETRY_LOGGER = "jobs_pipeline.queue.publish_retry"


def throttled(retry_after: str) -> httpx.HTTPStatusError:
    """A real httpx 429 answer carrying ``Retry-After`` (seconds form)."""
    request = httpx.Request("POST", "http://broker.invalid/send")
    response = httpx.Response(429, headers={"Retry-After": retry_after}, request=request)
    return httpx.HTTPStatusError("429 Too Many Requests", request=request, response=response)


def refused() -> ConnectionRefusedError:
    """A real refused connection (nothing listens on a fresh free port)."""
    try:
        socket.create_connection(("127.0.0.1", services.free_port()), timeout=2).close()
    except ConnectionRefusedError as exc:
        return exc
    raise AssertionError("something listens on the free port")


def failing_once(exc: BaseException):
    calls: list[int] = []

    def send() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise exc
        return "sent"

    return send, calls


# -- Retry-After is capped at RETRY_CAP_S --------------------------------------------------------


@pytest.mark.parametrize("retry_after, cap_s, expected", [
    ("7200", 60.0, 60.0),    # two hours asked: the cap wins
    ("7200", 5.0, 5.0),      # a deployment's smaller RETRY_CAP_S
    ("3", 60.0, 3.0),        # within the cap: the server's floor is honoured
    ("0", 60.0, 0.5),        # no real wait asked: the throttled backoff (0.1 * 5)
])
def test_retry_after_is_a_floor_capped_at_the_retry_cap(retry_after, cap_s, expected) -> None:
    assert classify(throttled(retry_after)).retry_after_s == float(retry_after)  # the header was read
    send, calls = failing_once(throttled(retry_after))
    sleeps: list[float] = []
    assert publish_with_retry(send, backend="celery", queue="pro", base_s=0.1, cap_s=cap_s,
                              sleep=sleeps.append) == "sent"
    assert calls == [1, 1] and sleeps == [pytest.approx(expected)]


def test_the_default_cap_is_the_retry_policys() -> None:
    assert DEFAULT_CAP_S == ExponentialRetryPolicy().cap_s == load_settings().retry_cap_s
    send, _ = failing_once(throttled("86400"))
    sleeps: list[float] = []
    publish_with_retry(send, backend="sqs", queue="q", sleep=sleeps.append)
    assert sleeps == [DEFAULT_CAP_S]


def test_publishers_from_settings_use_retry_cap_s(redis_server, caplog, monkeypatch) -> None:
    monkeypatch.delenv("QUEUE_BACKEND", raising=False)
    queue = f"pro-{uuid.uuid4().hex[:6]}"
    settings = load_settings(queue_backend="celery", celery_broker_url=redis_server.url, queue_name_pro=queue,
                             retry_cap_s=0.05)
    publisher = CeleryQueuePublisher.from_settings(settings)
    real = publisher.app.send_task
    calls: list[int] = []

    def throttled_once(name, **kw):
        calls.append(1)
        if len(calls) == 1:
            raise throttled("7200")
        return real(name, **kw)

    publisher.app.send_task = throttled_once
    caplog.set_level(logging.WARNING, logger=RETRY_LOGGER)
    message = QueueMessage.for_job(ValidationJob(feed_uri="/f.csv", context=JobContext(marketplace="amazon",
                                                                                         tier="pro")))
    publisher.publish(message)
    publisher.close()
    [warning] = [r.getMessage() for r in caplog.records if r.name == RETRY_LOGGER]
    assert warning.endswith("retrying in 0.05s")
    assert [json.loads(raw)["headers"]["id"] for raw in redis.Redis.from_url(redis_server.url).lrange(queue, 0, -1)] \
        == [message.message_id]


# -- an exhausted publish is final ----------------------------------------------------------------


def test_an_exhausted_publish_is_permanent_but_a_single_wrapped_failure_stays_transient() -> None:
    calls: list[int] = []

    def send() -> None:
        calls.append(1)
        raise refused()

    with pytest.raises(PublishRetriesExhausted) as err:
        publish_with_retry(send, backend="celery", queue="pro", max_attempts=3, sleep=lambda s: None)
    assert len(calls) == 3 and err.value.attempts == 3
    assert isinstance(err.value, PublishError) and (err.value.backend, err.value.queue) == ("celery", "pro")
    assert isinstance(err.value.__cause__, ConnectionRefusedError)  # the cause is kept for diagnosis
    assert classify(err.value).kind is ErrorClass.PERMANENT
    assert ExponentialRetryPolicy(max_attempts=3).decide(err.value, 1).retry is False

    # a PublishError raised from the same cause without retrying (no publisher loop ran) is still
    # transient: the classifier keeps deciding by the cause, only exhaustion is declared final
    try:
        try:
            raise refused()
        except ConnectionRefusedError as exc:
            raise PublishError("broker unreachable", backend="celery", queue="pro") from exc
    except PublishError as wrapped:
        assert classify(wrapped).kind is ErrorClass.TRANSIENT


def test_publish_outcome_does_not_retry_a_publish_that_used_its_attempts(settings, instance, caplog) -> None:
    """Broker down for good: the publisher tries ``max_publish_attempts`` times, then the op fails
    once (no RetryRequested), instead of op retries x publish attempts."""
    spec = DEMO_FEEDS[0]
    path = write_sample(settings.data_dir / "in", spec)
    resources = resources_for(settings)
    dead = f"redis://127.0.0.1:{services.free_port()}/0"
    resources["job_service"] = JobServiceResource(
        queue=CeleryQueueResource(broker_url=dead, max_publish_attempts=2, publish_retry_cap_s=0.05),
        telemetry=resources["job_service"].telemetry, retry_max_attempts=3, retry_base_s=0.01,
        retry_throttle_base_s=0.01, retry_cap_s=0.05)
    caplog.set_level(logging.WARNING, logger=RETRY_LOGGER)
    result = validate_feed.execute_in_process(
        run_config=feed_run_config(path, spec.marketplace, spec.category, spec.region), instance=instance,
        resources=resources, raise_on_error=False)

    assert not result.success
    assert result.output_for_node("run_validation").ok  # the job itself ran fine, once
    steps = [e.event_type_value for e in result.all_events if e.step_key == "publish_outcome"]
    assert "STEP_UP_FOR_RETRY" not in steps and steps.count("STEP_FAILURE") == 1
    error = result.failure_data_for_node("publish_outcome").error
    assert error.cause.cls_name == "PublishRetriesExhausted"  # Dagster wraps the op's error
    retries = [r for r in caplog.records if r.name == RETRY_LOGGER]
    assert len(retries) == 1  # 2 attempts in all: one wait between them, no second round
