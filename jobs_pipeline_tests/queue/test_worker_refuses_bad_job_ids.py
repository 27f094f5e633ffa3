"""A real Celery worker refuses a message without a valid ``job_id`` (no made-up id: a
redelivery would count twice): rejected without requeue, no events; the next job still runs."""

import json
from pathlib import Path

import redis

from jobs_pipeline.domain.model import JobContext, ValidationJob
from jobs_pipeline.queue.celery_publisher import CeleryQueuePublisher, producer_app
from jobs_pipeline.queue.publisher import VALIDATE_FEED_TASK, QueueMessage
from jobs_pipeline.demo.samples import SampleFeed, write_sample
from jobs_pipeline_tests.celery_worker import celery_worker, wait_until

QUEUE = "refuse-pro"


def test_messages_without_a_valid_job_id_are_rejected_not_run(tmp_path: Path, redis_server) -> None:
    lake = tmp_path / "lake"
    env = {"CELERY_BROKER_URL": redis_server.url, "JOBS_PIPELINE_DATA_DIR": str(tmp_path / "data"),
           "JOBS_PIPELINE_LAKE_DIR": str(lake), "TELEMETRY_SINKS": "lake", "QUEUE_BACKEND": "memory",
           "QUEUE_NAME_FREE": "refuse-free", "QUEUE_NAME_PRO": QUEUE}
    feed = write_sample(tmp_path / "feeds", SampleFeed("amazon", "books", "US", 20, 10))
    good = ValidationJob(feed_uri=str(feed), context=JobContext(marketplace="amazon", category="books",
                                                                region="US", tier="pro"))
    no_id = {k: v for k, v in good.to_message().items() if k != "job_id"}
    bad_id = {**good.to_message(), "job_id": "not-a-uuid"}
    app = producer_app(redis_server.url)
    with celery_worker(env, tmp_path / "worker.log", queues=f"{QUEUE},refuse-free"):
        for body in (no_id, bad_id):
            app.send_task(VALIDATE_FEED_TASK, args=[body], queue=QUEUE)
        CeleryQueuePublisher(redis_server.url, {"free": "refuse-free", "pro": QUEUE}).publish(QueueMessage.for_job(good))
        log = tmp_path / "worker.log"
        wait_until(lambda: "succeeded" in log.read_text(), timeout=60, what="the valid job to run")
        text = log.read_text()
    assert text.count("rejected without requeue") == 2, text[-3000:]
    assert redis.Redis.from_url(redis_server.url).llen(QUEUE) == 0  # nothing went back to the queue
    jobs = {json.loads(line)["job_id"] for part in lake.glob("date=*/part-*.jsonl")
            for line in part.read_text().splitlines()}
    assert jobs == {str(good.job_id)}  # the refused bodies ran nothing, under no invented id
