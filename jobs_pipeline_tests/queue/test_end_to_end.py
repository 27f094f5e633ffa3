"""End to end on each backend, for the same file: ``JobService.submit`` -> queue -> consumer
(in-process for memory, a real Celery worker subprocess, the SQS sensor + a validate_feeds
batch run) -> lake events -> ``job_runs`` / ``marketplace_quality``. Every job is published twice
(a client retry), and still appears once with the same metrics on every backend."""

import json
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from jobs_pipeline.defs.resources.deployments import resources_for
from jobs_pipeline.defs.resources.job_service import JobServiceResource
from jobs_pipeline.defs.resources.queue import InMemoryQueueResource, SQSQueueResource
from jobs_pipeline.defs.resources.telemetry import TelemetryResource
from jobs_pipeline.defs.feeds.sqs_sensor import SENSOR_NAME, sqs_jobs_sensor
from jobs_pipeline.defs.feeds.validate_feeds import validate_feeds
from jobs_pipeline.domain.model import JobContext, ValidationJob
from jobs_pipeline.jobs.service import JobService
from jobs_pipeline.queue.celery_publisher import CeleryQueuePublisher
from jobs_pipeline.queue.memory import InMemoryQueuePublisher
from jobs_pipeline.queue.publisher import QueueMessage
from jobs_pipeline.queue.sqs import SQSQueuePublisher, sqs_client
from jobs_pipeline.demo.samples import SampleFeed, write_sample
from jobs_pipeline.telemetry.factory import build_emitter
from jobs_pipeline.warehouse.events import ingest_lake
from jobs_pipeline.warehouse.tables import build_job_runs, build_marketplace_quality
from jobs_pipeline_tests.dagster_helpers import batch_feeds
from jobs_pipeline_tests.celery_worker import celery_worker, wait_until
from jobs_pipeline_tests.queue.harness import create_sqs_queues

FEED = SampleFeed("google_merchant", "electronics", "BR", 300, 10)
CONTEXT = JobContext(marketplace=FEED.marketplace, category=FEED.category, region=FEED.region, tier="pro")
METRIC_COLUMNS = ["status", "records_total", "records_valid", "records_error", "records_warning",
                  "error_rate", "warning_rate", "errors_by_field", "payload_size_bytes"]


@pytest.fixture(scope="module")
def feed(tmp_path_factory) -> Path:
    return write_sample(tmp_path_factory.mktemp("feeds"), FEED)


def tables(lake: Path, db: Path, job_id: str) -> tuple[list[dict], list[tuple]]:
    with duckdb.connect(str(db)) as con:
        ingest_lake(con, lake)
        build_job_runs(con)
        build_marketplace_quality(con)
        cur = con.execute(f"SELECT {', '.join(METRIC_COLUMNS)} FROM job_runs WHERE job_id = ?", [job_id])
        runs = [dict(zip(METRIC_COLUMNS, row)) for row in cur.fetchall()]
        quality = con.execute("SELECT marketplace, category, region, jobs, records_total, records_error, error_rate "
                              "FROM marketplace_quality").fetchall()
    return runs, quality


def completed_in_lake(lake: Path, job_id: str) -> bool:
    for part in lake.glob("date=*/part-*.jsonl"):
        for line in part.read_text().splitlines():
            event = json.loads(line)
            if event["job_id"] == job_id and event["type"] == "job.completed":
                return True
    return False


@pytest.fixture(scope="module")
def reference(feed, tmp_path_factory) -> dict:
    """The same file run directly (no queue): what every backend must report."""
    lake = tmp_path_factory.mktemp("ref-lake")
    service = JobService(InMemoryQueuePublisher(), build_emitter(["lake"], lake_dir=lake))
    job = service.create_job(feed, CONTEXT)
    service.run(job)
    runs, _ = tables(lake, lake / "q.duckdb", str(job.job_id))
    assert runs[0]["records_total"] == FEED.rows and runs[0]["records_error"] > 0  # counts depend on the ruleset
    return runs[0]


def check(lake: Path, job: ValidationJob, reference: dict) -> None:
    runs, quality = tables(lake, lake.parent / "quality.duckdb", str(job.job_id))
    assert len(runs) == 1, runs  # published twice, counted once
    assert runs[0] == reference
    assert quality == [(FEED.marketplace, FEED.category, FEED.region, 1, FEED.rows, reference["records_error"],
                        pytest.approx(reference["records_error"] / FEED.rows))]


def test_memory_backend_in_process(feed, tmp_path, reference) -> None:
    lake = tmp_path / "lake"
    publisher = InMemoryQueuePublisher()
    service = JobService(publisher, build_emitter(["lake"], lake_dir=lake))
    job, receipt = service.submit(feed, CONTEXT)
    publisher.publish(QueueMessage.for_job(job))  # the client retries
    for message in publisher.drain(receipt.queue):
        service.run(ValidationJob.from_message(message.body))
    check(lake, job, reference)


def test_celery_backend_with_a_real_worker(feed, tmp_path, reference, redis_server) -> None:
    lake = tmp_path / "lake"
    env = {"CELERY_BROKER_URL": redis_server.url, "JOBS_PIPELINE_DATA_DIR": str(tmp_path / "data"),
           "JOBS_PIPELINE_LAKE_DIR": str(lake), "TELEMETRY_SINKS": "lake", "QUEUE_BACKEND": "memory",
           "QUEUE_NAME_FREE": "e2e-free", "QUEUE_NAME_PRO": "e2e-pro"}
    publisher = CeleryQueuePublisher(redis_server.url, {"free": "e2e-free", "pro": "e2e-pro"})
    with celery_worker(env, tmp_path / "worker.log", queues="e2e-pro,e2e-free"):
        service = JobService(publisher, build_emitter(["lake"], lake_dir=tmp_path / "producer-lake"))
        job, receipt = service.submit(feed, CONTEXT)
        assert receipt.queue == "e2e-pro" and receipt.broker_message_id == str(job.job_id)
        publisher.publish(QueueMessage.for_job(job))  # the client retries: a second task, same id
        log = tmp_path / "worker.log"
        wait_until(lambda: log.read_text().count("succeeded") >= 2, timeout=60, what="both deliveries to run")
    assert completed_in_lake(lake, str(job.job_id))
    check(lake, job, reference)


def test_sqs_backend_with_the_sensor_and_validate_feeds_runs(feed, tmp_path, reference, moto_server, settings) -> None:
    lake = tmp_path / "lake"
    client = sqs_client(region="us-east-1", endpoint_url=moto_server.endpoint_url)
    urls = create_sqs_queues(client, fifo=False)
    service = JobService(SQSQueuePublisher(urls, client=client), build_emitter(["lake"], lake_dir=tmp_path / "p"))
    job, receipt = service.submit(feed, CONTEXT)
    service.publisher.publish(QueueMessage.for_job(job))  # the client retries (standard queue: 2 copies)

    sqs_jobs = SQSQueueResource(queue_url_free=urls["free"], queue_url_pro=urls["pro"], region="us-east-1",
                                endpoint_url=moto_server.endpoint_url)
    job_service = JobServiceResource(queue=InMemoryQueueResource(name="e2e-sqs"),
                                     telemetry=TelemetryResource(sinks=["lake"], lake_dir=str(lake)))
    with dg.instance_for_test() as instance:
        cursor = None
        launched = 0
        for _ in range(3):  # tick 1 requests the run(s); later ticks delete once recorded
            ctx = dg.build_sensor_context(instance=instance, cursor=cursor, sensor_name=SENSOR_NAME,
                                          resources={"sqs_jobs": sqs_jobs})
            result = sqs_jobs_sensor(ctx)
            cursor = result.cursor
            for request in result.run_requests or []:
                # what the sensor daemon does with a request: create the run with the run_key tags
                existing = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/run_key": request.run_key}))
                if existing:
                    continue
                assert request.tags["tier"] == "pro" and request.tags["marketplace"] == FEED.marketplace
                assert [f["job_id"] for f in batch_feeds([request])] == [str(job.job_id)]  # one step per job
                out = validate_feeds.execute_in_process(
                    run_config=request.run_config, instance=instance,
                    resources={**resources_for(settings), "job_service": job_service},
                    tags={**request.tags, "dagster/run_key": request.run_key, "dagster/sensor_name": SENSOR_NAME})
                assert out.success
                launched += 1
        assert launched == 1
        assert json.loads(cursor)["pending"] == []
    left = client.get_queue_attributes(QueueUrl=urls["pro"], AttributeNames=["All"])["Attributes"]
    assert left["ApproximateNumberOfMessages"] == "0" and left["ApproximateNumberOfMessagesNotVisible"] == "0"
    check(lake, job, reference)
