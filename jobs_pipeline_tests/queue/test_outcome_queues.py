"""Outcome messages (``feed.validated``) have their own queues: on every backend they land on
the tier's outcome queue, never on a job queue, so the Celery worker and ``sqs_jobs_sensor``
never receive them; every deployment's Dagster resources publish them there."""

import base64
import json
import uuid
from pathlib import Path

import dagster as dg
import pytest
import redis

from jobs_pipeline.defs.resources.deployments import resources_for
from jobs_pipeline.defs.resources.queue import CeleryQueueResource, InMemoryQueueResource, RolloutQueueResource, SQSQueueResource, queue_resource
from jobs_pipeline.defs.feeds.sqs_sensor import SENSOR_NAME, sqs_jobs_sensor
from jobs_pipeline.defs.feeds.validate_feed import validate_feed
from jobs_pipeline.domain.errors import PublishError
from jobs_pipeline.domain.model import JobContext, Tier, ValidationJob
from jobs_pipeline.jobs.compose import load_checked_settings
from jobs_pipeline.jobs.service import JobService
from jobs_pipeline.queue.celery_publisher import CeleryQueuePublisher
from jobs_pipeline.queue.publisher import FEED_VALIDATED, VALIDATE_FEED_TASK, QueueMessage, TierQueues
from jobs_pipeline.queue.sqs import SQSQueuePublisher, sqs_client
from jobs_pipeline.demo.samples import DEMO_FEEDS, write_sample
from jobs_pipeline.settings import SettingsError
from jobs_pipeline.telemetry.memory import InMemoryTelemetryEmitter
from jobs_pipeline_tests.celery_worker import celery_worker, wait_until
from jobs_pipeline_tests.dagster_helpers import batch_feeds, feed_run_config
from jobs_pipeline_tests.queue.harness import QUEUE_ENV, Harness, create_sqs_outcome_queues, create_sqs_queues

SPEC = DEMO_FEEDS[0]


def a_job(tier: str = "pro") -> ValidationJob:
    return ValidationJob(feed_uri="/feeds/x.csv", context=JobContext(marketplace="amazon", region="BR", tier=tier))


def job_message(tier: str = "pro") -> QueueMessage:
    return QueueMessage.for_job(a_job(tier))


def outcome_message(tier: str = "pro") -> QueueMessage:
    job = a_job(tier)
    return QueueMessage.feed_validated(job, {"job_id": str(job.job_id), "status": "completed"})


# -- every publisher (memory, Celery on Redis, SQS and SQS FIFO on moto) ----------------------


def test_an_outcome_lands_on_its_tiers_outcome_queue_and_never_on_a_job_queue(harness: Harness) -> None:
    pub = harness.publisher
    out_pro, out_free, job_pro = outcome_message("pro"), outcome_message("free"), job_message("pro")
    assert (out_pro.kind, job_pro.kind) == ("outcome", "job")
    queues = {(t, k): pub.queue_for(Tier(t), k) for t in ("free", "pro") for k in ("job", "outcome")}
    assert len(set(queues.values())) == 4  # four distinct queues

    receipts = [pub.publish(out_pro), pub.publish(out_free), pub.publish(job_pro)]
    assert [r.queue for r in receipts] == [queues["pro", "outcome"], queues["free", "outcome"], queues["pro", "job"]]
    assert harness.probe(queues["pro", "outcome"]) == [out_pro.message_id]
    assert harness.probe(queues["free", "outcome"]) == [out_free.message_id]
    assert harness.probe(queues["pro", "job"]) == [job_pro.message_id]  # the job, and only the job
    assert harness.probe(queues["free", "job"]) == []


def test_a_mixed_batch_routes_each_message_by_kind_and_tier(harness: Harness) -> None:
    pub = harness.publisher
    messages = [job_message("free"), outcome_message("pro"), outcome_message("free"), job_message("pro"),
                outcome_message("pro")]
    receipts = pub.publish_batch(messages)
    assert [r.message_id for r in receipts] == [m.message_id for m in messages]
    for tier in ("free", "pro"):
        for kind in ("job", "outcome"):
            expected = {m.message_id for m in messages
                        if m.tier == tier and ("outcome" if m.task == FEED_VALIDATED else "job") == kind}
            assert expected  # each of the four queues gets something
            assert set(harness.probe(pub.queue_for(Tier(tier), kind))) == expected, (tier, kind)


# -- the routing table and the settings --------------------------------------------------------


def test_outcome_queues_default_to_the_job_queue_name_plus_outcomes_and_can_never_be_a_job_queue() -> None:
    queues = TierQueues("memory", {"free": "f", "pro": "p"})
    assert (queues.queue_for("free", "outcome"), queues.queue_for("pro", "outcome")) == ("f.outcomes", "p.outcomes")
    with pytest.raises(ValueError, match="also job queues"):
        TierQueues("celery", {"free": "f", "pro": "p"}, {"free": "x", "pro": "p"})
    with pytest.raises(ValueError):
        queues.queue_for("gold", "outcome")  # an unknown tier is refused, not routed somewhere


def test_sqs_without_outcome_urls_refuses_an_outcome_and_queues_nothing(moto_server) -> None:
    client = sqs_client(region="us-east-1", endpoint_url=moto_server.endpoint_url)
    urls = create_sqs_queues(client, fifo=False)
    pub = SQSQueuePublisher(urls, client=client)  # built by hand, no outcome queues
    with pytest.raises(PublishError) as err:
        pub.publish(outcome_message("pro"))
    assert err.value.backend == "sqs" and "SQS_OUTCOME_QUEUE_PRO_URL" in err.value.reason
    assert err.value.retry_class == "permanent"
    pub.publish(job_message("pro"))  # jobs still go through
    for url in urls.values():
        attrs = client.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        assert int(attrs["ApproximateNumberOfMessages"]) == (1 if url == urls["pro"] else 0)


@pytest.fixture
def queue_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for var in QUEUE_ENV:
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


SQS_ENV = {"QUEUE_BACKEND": "sqs", "SQS_QUEUE_FREE_URL": "https://sqs/1/free", "SQS_QUEUE_PRO_URL": "https://sqs/1/pro",
           "AWS_REGION": "us-east-1", "SQS_OUTCOME_QUEUE_FREE_URL": "https://sqs/1/free-outcomes",
           "SQS_OUTCOME_QUEUE_PRO_URL": "https://sqs/1/pro-outcomes"}


@pytest.mark.parametrize("backend_vars", [{}, {"QUEUE_BACKEND": "memory", "QUEUE_ROLLOUT_BACKEND": "sqs",
                                              "QUEUE_ROLLOUT_PERCENT": "10"}])
def test_sqs_outcome_urls_are_required_at_start_up_unless_publishing_outcomes_is_off(
        data_dir, queue_env, backend_vars) -> None:
    for var, value in {**SQS_ENV, **backend_vars}.items():
        queue_env.setenv(var, value)
    settings = load_checked_settings()
    assert (settings.sqs_outcome_queue_free_url, settings.publish_outcomes) == (SQS_ENV["SQS_OUTCOME_QUEUE_FREE_URL"],
                                                                                True)
    for var in ("SQS_OUTCOME_QUEUE_FREE_URL", "SQS_OUTCOME_QUEUE_PRO_URL"):
        queue_env.delenv(var)
        with pytest.raises(SettingsError, match=var) as err:
            load_checked_settings()
        assert "PUBLISH_OUTCOMES=false" in str(err.value)
        queue_env.setenv(var, SQS_ENV[var])
    queue_env.delenv("SQS_OUTCOME_QUEUE_FREE_URL")
    queue_env.delenv("SQS_OUTCOME_QUEUE_PRO_URL")
    queue_env.setenv("PUBLISH_OUTCOMES", "false")
    assert load_checked_settings().publish_outcomes is False  # explicitly off: starts without outcome queues


@pytest.mark.parametrize("var, value, extra", [
    ("QUEUE_NAME_OUTCOMES_PRO", "pro", {}),
    ("QUEUE_NAME_OUTCOMES_FREE", "jobs-pro", {"QUEUE_NAME_PRO": "jobs-pro"}),
    ("SQS_OUTCOME_QUEUE_PRO_URL", SQS_ENV["SQS_QUEUE_PRO_URL"], SQS_ENV),
])
def test_an_outcome_queue_equal_to_a_job_queue_fails_at_start_up_naming_it(data_dir, queue_env, var, value,
                                                                            extra) -> None:
    for name, v in {**extra, var: value}.items():
        queue_env.setenv(name, v)
    with pytest.raises(SettingsError, match=var):
        load_checked_settings()


def test_outcome_queue_names_follow_the_job_queue_names_unless_set(data_dir, queue_env) -> None:
    queue_env.setenv("QUEUE_NAME_PRO", "jobs-pro")
    assert load_checked_settings().outcome_queue_names == {"free": "free.outcomes", "pro": "jobs-pro.outcomes"}
    queue_env.setenv("QUEUE_NAME_OUTCOMES_FREE", "results-free")
    assert load_checked_settings().outcome_queue_names == {"free": "results-free", "pro": "jobs-pro.outcomes"}
    publisher = CeleryQueuePublisher.from_settings(load_checked_settings(queue_backend="celery",
                                                                 celery_broker_url="redis://127.0.0.1:1/0"))
    assert (publisher.queue_for(Tier.FREE, "outcome"), publisher.queue_for(Tier.PRO, "outcome")) == (
        "results-free", "jobs-pro.outcomes")
    publisher.close()


# -- Dagster: every deployment publishes outcomes to the outcome queues -------------------------


def staging_env(monkeypatch: pytest.MonkeyPatch, root: Path, **queue_vars: str):
    """What a staging code location has in its environment; returns its checked settings."""
    for var, path in {"JOBS_PIPELINE_LANDING_DIR": "landing", "JOBS_PIPELINE_LAKE_DIR": "lake",
                      "JOBS_PIPELINE_DUCKDB": "quality.duckdb", "JOBS_PIPELINE_QUARANTINE_DIR": "quarantine"}.items():
        monkeypatch.setenv(var, str(root / path))
    monkeypatch.setenv("DAGSTER_DEPLOYMENT", "staging")
    for var, value in queue_vars.items():
        monkeypatch.setenv(var, value)
    return load_checked_settings()


def run_feed(settings, instance, resources, tier: str = "pro"):
    path = write_sample(settings.data_dir / "in", SPEC)
    result = validate_feed.execute_in_process(
        run_config=feed_run_config(path, SPEC.marketplace, SPEC.category, SPEC.region, tier=tier),
        instance=instance, resources=resources)
    assert result.success
    return str(result.output_for_node("describe_feed").job_id)


def celery_task(raw: bytes) -> tuple[str, list]:
    """Task name and positional args of a Celery message as stored in a Redis list."""
    message = json.loads(raw)
    body = message["body"]
    if message["properties"].get("body_encoding") == "base64":
        body = base64.b64decode(body)
    args, _kwargs, _embed = json.loads(body)
    return message["headers"]["task"], args


def test_staging_with_celery_publishes_the_outcome_on_the_outcome_queue_and_the_worker_never_sees_it(
        data_dir, queue_env, instance, redis_server, tmp_path) -> None:
    suffix = uuid.uuid4().hex[:6]
    free, pro = f"free-{suffix}", f"pro-{suffix}"
    settings = staging_env(queue_env, data_dir, QUEUE_BACKEND="celery", CELERY_BROKER_URL=redis_server.url,
                           QUEUE_NAME_FREE=free, QUEUE_NAME_PRO=pro)
    resources = resources_for(settings)
    assert isinstance(resources["job_service"].queue, CeleryQueueResource)
    r = redis.Redis.from_url(redis_server.url)

    worker_env = {"CELERY_BROKER_URL": redis_server.url, "JOBS_PIPELINE_DATA_DIR": str(tmp_path / "w"),
                  "JOBS_PIPELINE_LAKE_DIR": str(tmp_path / "w-lake"), "TELEMETRY_SINKS": "lake",
                  "QUEUE_BACKEND": "memory", "QUEUE_NAME_FREE": free, "QUEUE_NAME_PRO": pro,
                  "DAGSTER_DEPLOYMENT": "local"}
    log = tmp_path / "worker.log"
    with celery_worker(worker_env, log, queues=f"{pro},{free}"):
        job_id = run_feed(settings, instance, resources, tier="pro")  # publishes feed.validated, worker live

        waiting = [celery_task(raw) for raw in r.lrange(f"{pro}.outcomes", 0, -1)]
        assert [(task, args[0]["job_id"]) for task, args in waiting] == [(FEED_VALIDATED, job_id)]
        # positive control: a job published after the outcome on the worker's pro queue runs
        feed = write_sample(tmp_path / "feeds", SPEC)
        service = JobService(CeleryQueuePublisher(redis_server.url, {"free": free, "pro": pro}),
                             InMemoryTelemetryEmitter())
        job, _ = service.submit(feed, JobContext(marketplace=SPEC.marketplace, tier="pro"))
        wait_until(lambda: "succeeded" in log.read_text(), timeout=60, what="the worker to run the job")

    text = log.read_text()
    received = [line for line in text.splitlines() if line.endswith("received")]  # "Task name[id] received"
    assert len(received) == 1 and f"{VALIDATE_FEED_TASK}[{job.job_id}]" in received[0]
    assert FEED_VALIDATED not in text and "unregistered" not in text.lower()  # what an outcome would log
    assert r.llen(f"{pro}.outcomes") == 1  # still there, for the downstream consumers
    assert r.llen(pro) == 0 and r.llen(free) == 0


def sqs_depth(client, url: str) -> tuple[int, int]:
    a = client.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(a["ApproximateNumberOfMessages"]), int(a["ApproximateNumberOfMessagesNotVisible"])


def test_staging_with_sqs_publishes_the_outcome_on_the_outcome_queue_and_the_sensor_never_receives_it(
        data_dir, queue_env, instance, moto_server) -> None:
    client = sqs_client(region="us-east-1", endpoint_url=moto_server.endpoint_url)
    urls, outcome_urls = create_sqs_queues(client, fifo=False), create_sqs_outcome_queues(client, fifo=False)
    settings = staging_env(queue_env, data_dir, QUEUE_BACKEND="sqs", AWS_REGION="us-east-1",
                           SQS_ENDPOINT_URL=moto_server.endpoint_url, SQS_QUEUE_FREE_URL=urls["free"],
                           SQS_QUEUE_PRO_URL=urls["pro"], SQS_OUTCOME_QUEUE_FREE_URL=outcome_urls["free"],
                           SQS_OUTCOME_QUEUE_PRO_URL=outcome_urls["pro"])
    resources = resources_for(settings)
    assert isinstance(resources["job_service"].queue, SQSQueueResource)

    job_id = run_feed(settings, instance, resources, tier="pro")
    assert sqs_depth(client, outcome_urls["pro"]) == (1, 0)
    assert [sqs_depth(client, u) for u in (urls["pro"], urls["free"], outcome_urls["free"])] == [(0, 0)] * 3

    # positive control: a job on the pro job queue is received; the outcome is not
    job = job_message("pro")
    SQSQueuePublisher(urls, client=client).publish(job)
    ctx = dg.build_sensor_context(instance=instance, sensor_name=SENSOR_NAME,
                                  resources={"sqs_jobs": resources["sqs_jobs"]})
    result = sqs_jobs_sensor(ctx)
    assert [f["job_id"] for f in batch_feeds(result.run_requests)] == [job.message_id]
    assert sqs_depth(client, outcome_urls["pro"]) == (1, 0)  # never received, so never bound for a DLQ
    body = client.receive_message(QueueUrl=outcome_urls["pro"], MessageAttributeNames=["All"])["Messages"][0]
    assert body["MessageAttributes"]["task"]["StringValue"] == FEED_VALIDATED
    assert json.loads(body["Body"])["job_id"] == job_id


def test_local_resources_publish_outcomes_to_the_memory_outcome_queue(settings, instance) -> None:
    resources = resources_for(settings)
    queue = resources["job_service"].queue
    assert isinstance(queue, InMemoryQueueResource)
    job_id = run_feed(settings, instance, resources, tier="free")
    publisher = queue.get_publisher()
    assert [m.body["job_id"] for m in publisher.messages("free.outcomes")] .count(job_id) == 1
    assert not [m for m in publisher.messages("free") if m.task == FEED_VALIDATED]


def test_publish_outcomes_false_publishes_no_outcome(data_dir, queue_env, instance) -> None:
    queue_env.setenv("PUBLISH_OUTCOMES", "false")
    settings = load_checked_settings()
    resources = resources_for(settings)
    assert resources["job_service"].queue.publish_outcomes is False
    job_id = run_feed(settings, instance, resources, tier="pro")
    publisher = resources["job_service"].queue.get_publisher()  # the process-wide memory queues
    published = [m.body.get("job_id") for q in ("pro", "pro.outcomes") for m in publisher.messages(q)]
    assert job_id not in published


def test_staging_queue_resource_follows_the_backend_and_the_rollout(data_dir, queue_env, redis_server) -> None:
    base = {"CELERY_BROKER_URL": redis_server.url}
    cases = {
        "memory": ({"QUEUE_BACKEND": "memory"}, InMemoryQueueResource),
        "celery": ({"QUEUE_BACKEND": "celery", **base}, CeleryQueueResource),
        "sqs": (SQS_ENV, SQSQueueResource),
        "rollout": ({"QUEUE_BACKEND": "celery", **base, "QUEUE_ROLLOUT_BACKEND": "memory",
                     "QUEUE_ROLLOUT_PERCENT": "50"}, RolloutQueueResource),
    }
    for name, (env, kind) in cases.items():
        for var in QUEUE_ENV:
            queue_env.delenv(var, raising=False)
        for var, value in env.items():
            queue_env.setenv(var, value)
        resource = queue_resource(load_checked_settings(), from_env=False)
        assert isinstance(resource, kind), name
        publisher = resource.get_publisher()
        try:
            for tier in (Tier.FREE, Tier.PRO):
                assert publisher.queue_for(tier, "outcome") != publisher.queue_for(tier, "job"), name
        finally:
            publisher.close()
