"""The same contract, checked identically on every publisher: memory, Celery (real Redis),
SQS standard and SQS FIFO (moto's server through boto3)."""

import subprocess
import sys
import uuid

import pytest

from jobs_pipeline.domain.errors import PublishError
from jobs_pipeline.jobs.compose import load_checked_settings
from jobs_pipeline.domain.model import JobContext, Tier, ValidationJob
from jobs_pipeline.queue.publisher import VALIDATE_FEED_TASK, QueueMessage
from jobs_pipeline.queue.queue_factory import build_publisher
from jobs_pipeline.settings import SettingsError
from jobs_pipeline_tests.queue.harness import QUEUE_ENV, Harness


def job(tier: str = "free", marketplace: str = "google_merchant") -> QueueMessage:
    return QueueMessage.for_job(ValidationJob(
        feed_uri="/feeds/x.csv", context=JobContext(marketplace=marketplace, category="electronics", region="BR",
                                                    tier=tier)))


def test_publish_routes_by_tier(harness: Harness) -> None:
    free, pro = job("free"), job("pro")
    r_free, r_pro = harness.publisher.publish(free), harness.publisher.publish(pro)
    assert (r_free.backend, r_pro.backend) == (harness.publisher.backend,) * 2
    assert r_free.queue == harness.publisher.queue_for(Tier.FREE) != harness.publisher.queue_for(Tier.PRO) == r_pro.queue
    assert r_free.message_id == free.message_id and r_pro.message_id == pro.message_id
    assert harness.probe(r_free.queue) == [free.message_id]
    assert harness.probe(r_pro.queue) == [pro.message_id]


def test_batch_publish_keeps_order_and_routes_each_message(harness: Harness) -> None:
    messages = [job("pro" if i % 3 == 0 else "free") for i in range(23)]
    receipts = harness.publisher.publish_batch(messages)
    assert [r.message_id for r in receipts] == [m.message_id for m in messages]
    for tier in ("free", "pro"):
        expected = {m.message_id for m in messages if m.tier == tier}
        assert set(harness.probe(harness.publisher.queue_for(Tier(tier)))) == expected


def test_republishing_a_job_keeps_its_id(harness: Harness) -> None:
    """A re-publish (client retry) never creates a second job id: the broker drops it (memory,
    SQS FIFO) or both copies carry the job id, so the idempotent consumer counts it once."""
    message = job("pro")
    first, second = harness.publisher.publish(message), harness.publisher.publish(message)
    assert first.message_id == second.message_id == message.message_id
    waiting = harness.probe(first.queue)
    assert set(waiting) == {message.message_id}
    assert len(waiting) == (1 if harness.broker_dedups else 2)


def test_unreachable_broker_raises_publish_error_naming_backend_and_queue(harness: Harness) -> None:
    if harness.broken is None:
        assert harness.name == "memory"  # in-process: there is no broker that can be down
        with pytest.raises(ValueError):
            harness.publisher.queue_for("gold")  # an unknown tier is refused, not queued somewhere
        return
    broken = harness.broken()
    message = job("pro")
    with pytest.raises(PublishError) as err:
        broken.publish(message)
    assert err.value.backend == harness.publisher.backend
    assert err.value.queue == harness.publisher.queue_for(Tier.PRO)
    assert harness.probe(err.value.queue) == []  # nothing queued
    broken.close()


def test_settings_build_this_backend_and_missing_variables_are_named(harness: Harness,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    for var, value in (harness.settings_env or {}).items():
        monkeypatch.setenv(var, value)
    publisher = build_publisher(load_checked_settings())
    assert publisher.backend == harness.publisher.backend
    publisher.close()
    required = [v for v in (harness.settings_env or {}) if v not in ("QUEUE_BACKEND", "SQS_ENDPOINT_URL")]
    for var in required:
        monkeypatch.delenv(var)
        if var == "AWS_REGION":
            monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
        with pytest.raises(SettingsError, match=var):
            load_checked_settings()
        monkeypatch.setenv(var, harness.settings_env[var])
    monkeypatch.setenv("QUEUE_BACKEND", "kafka")
    with pytest.raises(SettingsError, match="QUEUE_BACKEND"):
        load_checked_settings()


def test_messages_are_json_with_the_task_name(harness: Harness) -> None:
    message = job("free")
    assert message.task == VALIDATE_FEED_TASK
    receipt = harness.publisher.publish(message)
    assert receipt.broker_message_id  # the broker's own id (= job id for Celery and memory)
    if harness.name in ("memory", "celery"):
        assert receipt.broker_message_id == message.message_id


def test_client_libraries_are_imported_only_for_their_backend() -> None:
    code = (
        "import sys\n"
        "from jobs_pipeline.settings import load_settings\n"
        "from jobs_pipeline.queue.queue_factory import build_publisher\n"
        "from jobs_pipeline.jobs.service import JobService\n"
        "build_publisher(load_settings(queue_backend='memory'))\n"
        "assert 'celery' not in sys.modules and 'kombu' not in sys.modules, 'celery imported'\n"
        "assert 'boto3' not in sys.modules and 'botocore' not in sys.modules, 'boto3 imported'\n"
        "build_publisher(load_settings(queue_backend='celery', celery_broker_url='redis://127.0.0.1:1/0'))\n"
        "assert 'celery' in sys.modules and 'boto3' not in sys.modules\n"
    )
    env_clean = {k: v for k, v in __import__("os").environ.items() if k not in QUEUE_ENV}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env_clean)
    assert done.returncode == 0, done.stderr


def test_unknown_message_id_scheme_is_independent_of_backend() -> None:
    """Every backend keys a job message by its job id (the contract the consumers rely on)."""
    j = ValidationJob(feed_uri="x", context=JobContext(marketplace="amazon"), job_id=uuid.uuid4())
    assert QueueMessage.for_job(j).message_id == str(j.job_id)
