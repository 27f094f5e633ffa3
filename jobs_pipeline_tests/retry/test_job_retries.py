"""Fault injection through JobService: a transient outage retries then completes (the tables
count the job once, with its attempts); a permanent error fails once, with no retry.

Events go to a real lake (LakeTelemetryEmitter), tables to a real DuckDB file."""

import socket
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from jobs_pipeline.domain.model import JobContext
from jobs_pipeline.jobs.service import JobService
from jobs_pipeline.queue.memory import InMemoryQueuePublisher
from jobs_pipeline.demo.samples import DEMO_FEEDS, write_sample
from jobs_pipeline.telemetry.lake import LakeTelemetryEmitter
from jobs_pipeline_tests.retry.faults import closed_port, raised, sqs_client
from jobs_pipeline_tests.retry.harness import (
    FAST,
    BrokerOutage,
    DependentValidator,
    HttpSinkEmitter,
    Raising,
    Runner,
    event_rows,
    fast_policy,
    job_runs,
    lake_events,
)

SPEC = DEMO_FEEDS[0]  # google_merchant, 1200 rows, 120 bad


@pytest.fixture
def feed(tmp_path: Path) -> Path:
    return write_sample(tmp_path / "in", SPEC)


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    return tmp_path / "lake"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "quality.duckdb"


def make_service(lake: Path, validator, *, emitter=None, max_attempts: int = 3) -> JobService:
    return JobService(InMemoryQueuePublisher(), emitter or LakeTelemetryEmitter(lake, fsync=False),
                      validator=validator, retry_policy=fast_policy(max_attempts), progress_every=10_000)


def new_job(service: JobService, feed: Path):
    return service.create_job(feed, JobContext(marketplace=SPEC.marketplace, category=SPEC.category,
                                               region=SPEC.region))


def test_broker_outage_retries_then_completes_and_counts_once(feed, lake, db, redis_server):
    outage = BrokerOutage(redis_server.url, down_for=2)
    service = make_service(lake, DependentValidator(outage))
    runner = Runner(service)
    job = new_job(service, feed)

    outcome = runner.run(job)

    assert outcome.ok and outcome.attempt == 3 and outcome.metrics.records_total == SPEC.rows
    assert outage.calls == 3
    assert [d.classification for d in runner.decisions] == ["transient", "transient"]
    assert all(0 <= d.delay_s <= FAST["cap_s"] for d in runner.decisions)
    events = lake_events(lake)
    assert [(e["type"], e["attempt"]) for e in events] == [
        ("job.started", 1), ("job.retrying", 1), ("job.started", 2), ("job.retrying", 2),
        ("job.started", 3), ("job.completed", 3)]
    retrying = [e for e in events if e["type"] == "job.retrying"]
    assert {e["error"]["error_type"] for e in retrying} == {"ConnectionError"}  # redis-py's
    assert {e["error"]["classification"] for e in retrying} == {"transient"}
    assert all(e["error"]["delay_s"] is not None for e in retrying)

    [row] = job_runs(lake, db)
    assert row == {"job_id": str(job.job_id), "status": "completed", "attempts": 3, "retries": 2,
                   "records_total": SPEC.rows, "error_type": None}
    # replaying the same lake (a redelivery, a re-ingest) changes nothing
    assert job_runs(lake, db) == [row]


def test_http_sink_outage_retries_then_completes(feed, lake, db, httpserver: HTTPServer):
    httpserver.expect_oneshot_request("/events", method="POST").respond_with_data("", status=503)
    httpserver.expect_request("/events", method="POST").respond_with_data("", status=202)
    emitter = HttpSinkEmitter(lake, httpserver.url_for("/events"))
    service = make_service(lake, DependentValidator(lambda: None), emitter=emitter)
    job = new_job(service, feed)

    outcome = Runner(service).run(job)
    emitter.close()

    assert outcome.ok and outcome.attempt == 2
    types = [(e["type"], e["attempt"]) for e in lake_events(lake)]
    assert types == [("job.started", 1), ("job.retrying", 1), ("job.started", 2), ("job.completed", 2)]
    [row] = job_runs(lake, db)
    assert (row["status"], row["attempts"], row["retries"]) == ("completed", 2, 1)
    retrying = [r for r in event_rows(db, str(job.job_id)) if r["event_type"] == "job.retrying"]
    assert [(r["error_type"], r["error_classification"]) for r in retrying] == [("HTTPStatusError", "transient")]


def test_permanent_error_fails_once_without_retry(feed, lake, db, moto_server):
    sqs = sqs_client(moto_server.endpoint_url)
    dependency = Raising(lambda: sqs.get_queue_url(QueueName="issue6-missing"))  # real QueueDoesNotExist
    service = make_service(lake, DependentValidator(dependency))
    runner = Runner(service)
    job = new_job(service, feed)

    outcome = runner.run(job)

    assert not outcome.ok and outcome.attempt == 1 and dependency.calls == 1
    assert runner.decisions == []
    assert outcome.error.classification == "permanent" and outcome.error.delay_s is None
    events = lake_events(lake)
    assert [e["type"] for e in events] == ["job.started", "job.failed"]
    [row] = job_runs(lake, db)
    assert (row["status"], row["attempts"], row["retries"], row["error_type"]) == (
        "failed", 1, 0, "QueueDoesNotExist")


def test_unusable_feed_is_permanent(tmp_path, lake, db):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    validator = DependentValidator(lambda: None)
    service = make_service(lake, validator)
    outcome = Runner(service).run(new_job(service, empty))
    assert not outcome.ok and validator.calls == 1
    assert [e["type"] for e in lake_events(lake)] == ["job.started", "job.failed"]
    [row] = job_runs(lake, db)
    assert (row["status"], row["attempts"], row["error_type"]) == ("failed", 1, "FeedFormatError")


def test_an_outage_longer_than_the_policy_fails_after_max_attempts(feed, lake, db):
    port = closed_port()
    dependency = Raising(lambda: socket.create_connection(("127.0.0.1", port), timeout=2))
    service = make_service(lake, DependentValidator(dependency), max_attempts=4)
    job = new_job(service, feed)

    outcome = Runner(service).run(job)

    assert not outcome.ok and outcome.attempt == 4 and dependency.calls == 4
    assert outcome.error.error_type == "ConnectionRefusedError" and outcome.error.classification == "transient"
    events = lake_events(lake)
    assert [e["type"] for e in events].count("job.retrying") == 3
    assert [e["type"] for e in events].count("job.failed") == 1
    failed = events[-1]
    assert failed["type"] == "job.failed" and failed["attempt"] == 4
    [row] = job_runs(lake, db)
    assert (row["status"], row["attempts"], row["retries"]) == ("failed", 4, 3)


def test_throttling_backs_off_from_the_longer_base(feed, lake, httpserver: HTTPServer):
    httpserver.expect_request("/").respond_with_data('{"__type":"com.amazonaws.sqs#ThrottlingException"}',
                                                     status=400, content_type="application/x-amz-json-1.0")
    sqs = sqs_client(httpserver.url_for("/"))
    exc = raised(sqs.list_queues)
    service = make_service(lake, DependentValidator(Raising(lambda: sqs.list_queues())))
    runner = Runner(service)
    outcome = runner.run(new_job(service, feed))
    assert not outcome.ok and outcome.error.classification == "throttled"
    assert [d.classification for d in runner.decisions] == ["throttled", "throttled"]
    policy = fast_policy()
    assert all(d.delay_s <= policy.backoff_ceiling(policy.classifier(exc).kind, i + 1)
               for i, d in enumerate(runner.decisions))
