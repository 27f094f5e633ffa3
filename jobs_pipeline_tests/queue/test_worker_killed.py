"""Worker process killed mid-job: the task is redelivered (acks_late + reject_on_worker_lost)
and the job is counted once in the quality tables."""

import os
import signal

from jobs_pipeline.jobs.service import JobService
from jobs_pipeline.queue.celery_publisher import CeleryQueuePublisher
from jobs_pipeline.demo.samples import write_sample
from jobs_pipeline.telemetry.factory import build_emitter
from jobs_pipeline_tests.celery_worker import celery_worker, wait_until
from jobs_pipeline_tests.queue.test_end_to_end import CONTEXT, FEED, completed_in_lake, tables


def test_killed_pool_process_redelivers_and_counts_once(tmp_path, redis_server) -> None:
    feed = write_sample(tmp_path / "feeds", FEED)
    lake, gate = tmp_path / "lake", tmp_path / "gate"
    gate.mkdir()
    env = {"CELERY_BROKER_URL": redis_server.url, "JOBS_PIPELINE_DATA_DIR": str(tmp_path / "data"),
           "JOBS_PIPELINE_LAKE_DIR": str(lake), "TELEMETRY_SINKS": "lake", "QUEUE_BACKEND": "memory",
           "TEST_GATE_DIR": str(gate)}
    publisher = CeleryQueuePublisher(redis_server.url, {"free": "kill-free", "pro": "kill-pro"})
    log = tmp_path / "worker.log"
    with celery_worker(env, log, app="jobs_pipeline_tests.gated_worker", queues="kill-pro,kill-free"):
        service = JobService(publisher, build_emitter(["lake"], lake_dir=tmp_path / "producer-lake"))
        job, _ = service.submit(feed, CONTEXT)
        deliveries = gate / "deliveries"
        pid = int(wait_until(lambda: deliveries.exists() and deliveries.read_text().split(), timeout=60,
                             what="the job to start")[0])
        os.kill(pid, signal.SIGKILL)  # the pool process dies mid-job
        wait_until(lambda: completed_in_lake(lake, str(job.job_id)), timeout=90, what="the redelivered job")
    pids = deliveries.read_text().split()
    assert len(pids) == 2 and pids[0] != pids[1]  # delivered again, to a new pool process
    runs, quality = tables(lake, tmp_path / "q.duckdb", str(job.job_id))
    assert len(runs) == 1 and runs[0]["status"] == "completed"
    assert runs[0]["records_total"] == FEED.rows  # the whole file, once
    assert quality[0][3] == 1  # one job in marketplace_quality
    assert "WorkerLostError" in log.read_text() or "Worker exited prematurely" in log.read_text()
