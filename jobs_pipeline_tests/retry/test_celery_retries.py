"""The same retry behaviour through the Celery worker (a real ``celery worker`` subprocess on
a real local redis-server): the task retries transient errors with the shared policy's
countdown and ``max_retries``, and fails permanent errors at once."""

from pathlib import Path

import pytest

from jobs_pipeline.domain.model import JobContext, ValidationJob
from jobs_pipeline.queue.celery_publisher import CeleryQueuePublisher
from jobs_pipeline.queue.publisher import QueueMessage
from jobs_pipeline.demo.samples import SampleFeed, sample_rows, write_csv
from jobs_pipeline_tests.celery_worker import celery_worker, wait_until
from jobs_pipeline_tests.retry.harness import FAST, job_runs, lake_events

SPEC = SampleFeed("google_merchant", "electronics", "BR", 200, 10)
QUEUES = {"free": "retry6-free", "pro": "retry6-pro"}
MAX_ATTEMPTS = 3


@pytest.fixture(scope="module")
def worker(tmp_path_factory, redis_server):
    root = tmp_path_factory.mktemp("celery-retries")
    lake = root / "lake"
    env = {"CELERY_BROKER_URL": redis_server.url, "JOBS_PIPELINE_DATA_DIR": str(root / "data"),
           "JOBS_PIPELINE_LAKE_DIR": str(lake), "TELEMETRY_SINKS": "lake", "QUEUE_BACKEND": "memory",
           "QUEUE_NAME_FREE": QUEUES["free"], "QUEUE_NAME_PRO": QUEUES["pro"],
           "RETRY_MAX_ATTEMPTS": str(MAX_ATTEMPTS), "RETRY_BASE_S": str(FAST["base_s"]),
           "RETRY_THROTTLE_BASE_S": str(FAST["throttle_base_s"]), "RETRY_CAP_S": str(FAST["cap_s"])}
    log = root / "worker.log"
    with celery_worker(env, log, app="jobs_pipeline_tests.retry.faulty_worker",
                       queues=f"{QUEUES['pro']},{QUEUES['free']}", pool="solo"):
        yield {"root": root, "lake": lake, "log": log,
               "publisher": CeleryQueuePublisher(redis_server.url, QUEUES)}


def submit(worker, fault: str) -> ValidationJob:
    path = write_csv(worker["root"] / "feeds" / f"{fault}.csv", sample_rows(SPEC))
    job = ValidationJob(feed_uri=str(path), context=JobContext(marketplace=SPEC.marketplace,
                                                               category=SPEC.category, region=SPEC.region))
    worker["publisher"].publish(QueueMessage.for_job(job))
    return job


def events_of(lake: Path, job: ValidationJob) -> list[dict]:
    return [e for e in lake_events(lake) if e["job_id"] == str(job.job_id)]


def finished(worker, job: ValidationJob) -> list[dict] | None:
    events = events_of(worker["lake"], job)
    return events if any(e["type"] in {"job.completed", "job.failed"} for e in events) else None


def retries_logged(worker, job: ValidationJob) -> int:
    """Celery's own record of ``Task.retry`` for this task (the task id is the job id)."""
    return worker["log"].read_text().count(f"[{job.job_id}] retry:")


def test_transient_outage_retries_the_task_then_completes(worker):
    job = submit(worker, "refused-2")
    events = wait_until(lambda: finished(worker, job), timeout=90, what="the job to finish")

    assert [(e["type"], e["attempt"]) for e in events] == [
        ("job.started", 1), ("job.retrying", 1), ("job.started", 2), ("job.retrying", 2),
        ("job.started", 3), ("job.completed", 3)]
    retrying = [e["error"] for e in events if e["type"] == "job.retrying"]
    assert {(r["error_type"], r["classification"]) for r in retrying} == {("ConnectionRefusedError", "transient")}
    assert all(0 <= r["delay_s"] <= FAST["cap_s"] for r in retrying)
    assert retries_logged(worker, job) == 2
    rows = [r for r in job_runs(worker["lake"], worker["root"] / "q1.duckdb") if r["job_id"] == str(job.job_id)]
    assert [(r["status"], r["attempts"], r["retries"], r["records_total"]) for r in rows] == [
        ("completed", 3, 2, SPEC.rows)]


def test_permanent_error_fails_the_task_at_once(worker):
    job = submit(worker, "enoent-1")
    events = wait_until(lambda: finished(worker, job), timeout=90, what="the job to finish")

    assert [e["type"] for e in events] == ["job.started", "job.failed"]
    assert events[-1]["error"]["error_type"] == "FileNotFoundError"
    assert events[-1]["error"]["classification"] == "permanent"
    wait_until(lambda: f"[{job.job_id}] succeeded" in worker["log"].read_text(), timeout=30,
               what="celery to record the task's end")
    assert retries_logged(worker, job) == 0
    rows = [r for r in job_runs(worker["lake"], worker["root"] / "q2.duckdb") if r["job_id"] == str(job.job_id)]
    assert [(r["status"], r["attempts"], r["retries"]) for r in rows] == [("failed", 1, 0)]


def test_outage_outlasting_the_policy_fails_after_max_attempts(worker):
    job = submit(worker, "refused-99")
    events = wait_until(lambda: finished(worker, job), timeout=90, what="the job to finish")

    types = [e["type"] for e in events]
    assert types.count("job.retrying") == MAX_ATTEMPTS - 1 and types.count("job.failed") == 1
    assert events[-1]["type"] == "job.failed" and events[-1]["attempt"] == MAX_ATTEMPTS
    assert events[-1]["error"]["classification"] == "transient"
    assert retries_logged(worker, job) == MAX_ATTEMPTS - 1
    rows = [r for r in job_runs(worker["lake"], worker["root"] / "q3.duckdb") if r["job_id"] == str(job.job_id)]
    assert [(r["status"], r["attempts"], r["retries"]) for r in rows] == [("failed", MAX_ATTEMPTS, MAX_ATTEMPTS - 1)]
