"""Publish retries (transient only, same id), broker down, and the rollout publisher."""

import json
import logging
import uuid
from collections import Counter

import pytest
import redis
from kombu.exceptions import EncodeError, OperationalError

from jobs_pipeline.domain.errors import PublishError
from jobs_pipeline.domain.model import JobContext, ValidationJob
from jobs_pipeline.jobs.compose import load_checked_settings
from jobs_pipeline.jobs.service import JobService
from jobs_pipeline.queue.celery_publisher import CeleryQueuePublisher
from jobs_pipeline.queue.memory import InMemoryQueuePublisher
from jobs_pipeline.queue.publisher import QueueMessage
from jobs_pipeline.queue.queue_factory import build_publisher
from jobs_pipeline.queue.rollout import RolloutQueuePublisher, bucket
from jobs_pipeline.telemetry.memory import InMemoryTelemetryEmitter
from jobs_pipeline_tests import services


def message(tier: str = "pro") -> QueueMessage:
    return QueueMessage.for_job(ValidationJob(feed_uri="/f.csv", context=JobContext(marketplace="amazon", tier=tier)))


def queued_ids(url: str, queue: str) -> list[str]:
    return [json.loads(raw)["headers"]["id"] for raw in redis.Redis.from_url(url).lrange(queue, 0, -1)]


def test_transient_broker_error_is_retried_with_the_same_task_id(redis_server) -> None:
    queue = f"pro-{uuid.uuid4().hex[:6]}"
    pub = CeleryQueuePublisher(redis_server.url, {"pro": queue}, retry_base_s=0.001)
    real, calls = pub.app.send_task, []

    def flaky(name, **kw):
        calls.append(kw["task_id"])
        if len(calls) == 1:
            raise OperationalError("connection reset")  # what kombu raises for a broker hiccup
        return real(name, **kw)

    pub.app.send_task = flaky
    m = message()
    receipt = pub.publish(m)
    assert calls == [m.message_id, m.message_id]
    assert receipt.broker_message_id == m.message_id
    assert queued_ids(redis_server.url, queue) == [m.message_id]


def test_permanent_error_is_not_retried(redis_server) -> None:
    pub = CeleryQueuePublisher(redis_server.url, retry_base_s=0.001)
    calls = []

    def broken(name, **kw):
        calls.append(1)
        raise EncodeError("cannot serialise")

    pub.app.send_task = broken
    with pytest.raises(PublishError) as err:
        pub.publish(message("free"))
    assert calls == [1] and err.value.backend == "celery" and err.value.queue == "free"


def test_broker_down_at_submit_raises_and_nothing_is_recorded_as_queued(caplog, tmp_path) -> None:
    dead = f"redis://127.0.0.1:{services.free_port()}/0"
    emitter = InMemoryTelemetryEmitter()
    service = JobService(CeleryQueuePublisher(dead, max_attempts=2, retry_base_s=0.001), emitter)
    caplog.set_level(logging.INFO, logger="jobs_pipeline.jobs.service")
    with pytest.raises(PublishError) as err:
        service.submit(tmp_path / "f.csv", JobContext(marketplace="amazon", tier="pro"))
    assert err.value.backend == "celery" and err.value.queue == "pro"
    assert not [r for r in caplog.records if "queued" in r.getMessage()]
    assert emitter.events == []


def test_rollout_is_deterministic_by_job_id_and_close_to_the_percentage() -> None:
    primary, secondary = InMemoryQueuePublisher(), InMemoryQueuePublisher()
    rollout = RolloutQueuePublisher(primary, secondary, 10)
    messages = [message("free") for _ in range(2000)]
    receipts = rollout.publish_batch(messages)
    assert [r.message_id for r in receipts] == [m.message_id for m in messages]
    sides = Counter(rollout.choose(m.message_id) is secondary for m in messages)
    assert 120 < sides[True] < 290  # ~10 % of 2000 (hash spread, not randomness: fixed ids per run)
    again = RolloutQueuePublisher(InMemoryQueuePublisher(), InMemoryQueuePublisher(), 10)
    assert all((rollout.choose(m.message_id) is secondary) == (again.choose(m.message_id) is again.secondary)
               for m in messages)
    assert len(secondary.messages("free")) == sides[True] and len(primary.messages("free")) == sides[False]
    # raising the percentage only moves jobs to the secondary, never back
    wider = RolloutQueuePublisher(primary, secondary, 50)
    assert all(wider.choose(m.message_id) is secondary for m in messages if rollout.choose(m.message_id) is secondary)
    assert bucket("abc") == bucket("abc") and 0 <= bucket("abc") < 10_000


def test_factory_builds_the_rollout_from_settings(redis_server, monkeypatch) -> None:
    for var in ("QUEUE_ROLLOUT_BACKEND", "QUEUE_ROLLOUT_PERCENT", "QUEUE_BACKEND", "CELERY_BROKER_URL"):
        monkeypatch.delenv(var, raising=False)
    s = load_checked_settings(queue_backend="celery", celery_broker_url=redis_server.url,
                      queue_rollout_backend="memory", queue_rollout_percent=25)
    pub = build_publisher(s)
    assert isinstance(pub, RolloutQueuePublisher)
    assert (pub.primary.backend, pub.secondary.backend, pub.percent) == ("celery", "memory", 25)
    pub.close()
    with pytest.raises(Exception, match="QUEUE_ROLLOUT_PERCENT"):
        load_checked_settings(queue_rollout_backend="memory", queue_backend="celery", celery_broker_url="redis://x",
                      queue_rollout_percent=150)
    with pytest.raises(Exception, match="SQS_QUEUE_"):
        load_checked_settings(queue_backend="celery", celery_broker_url="redis://x", queue_rollout_backend="sqs",
                      queue_rollout_percent=10)
