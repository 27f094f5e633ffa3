"""The event lake on S3: concurrent writers, one object per writer and flush, ``job_events``
from S3 exactly once by ``event_id``."""

import threading

import duckdb

from jobs_pipeline.domain.model import JobContext, ValidationJob
from jobs_pipeline.jobs.service import JobService
from jobs_pipeline.queue.memory import InMemoryQueuePublisher
from jobs_pipeline.demo.samples import DEMO_FEEDS, write_sample
from jobs_pipeline.telemetry.s3_lake import S3LakeTelemetryEmitter
from jobs_pipeline.telemetry.factory import build_emitter
from jobs_pipeline.warehouse.connection import scalar
from jobs_pipeline.warehouse.events import duplicate_event_ids, ingest_lake
from jobs_pipeline.warehouse.lake_source import lake_source


def _job(path, spec) -> ValidationJob:
    return ValidationJob(feed_uri=str(path), context=JobContext(marketplace=spec.marketplace,
                                                                category=spec.category, region=spec.region))


def test_two_concurrent_runs_write_the_s3_lake_and_job_events_holds_each_event_once(
        aws_env, s3, bucket, tmp_path):
    lake = f"s3://{bucket}/lake"
    specs = DEMO_FEEDS[:2]
    jobs = [_job(write_sample(tmp_path / "feeds", spec), spec) for spec in specs]
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run(job: ValidationJob) -> None:
        try:
            emitter = build_emitter(["lake"], lake_dir=lake)  # JOBS_PIPELINE_LAKE_URI=s3://… picks S3
            assert isinstance(emitter, S3LakeTelemetryEmitter)
            service = JobService(InMemoryQueuePublisher(), emitter, progress_every=200)
            barrier.wait()
            service.run(job)
            service.run(job)  # a redelivery: the same event ids again, in new objects
            emitter.close()
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors

    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="lake/")["Contents"]]
    assert len(keys) == 4  # one object per writer and flush, never appended to
    assert all(k.startswith("lake/date=") and "/part-" in k and k.endswith(".jsonl") for k in keys)
    writers = {k.rsplit("/part-", 1)[1].rsplit("-", 1)[0] for k in keys}
    assert len(writers) == 2

    con = duckdb.connect()
    stats = ingest_lake(con, lake_source(lake))
    assert stats.files == 4
    assert stats.events_read == 2 * stats.events_inserted  # every event came twice
    per_job = dict(con.execute("SELECT job_id::VARCHAR, count(*) FROM job_events GROUP BY 1").fetchall())
    # started + progress (every 200 records) + completed, once each
    assert per_job == {str(j.job_id): 2 + spec.rows // 200 for j, spec in zip(jobs, specs, strict=True)}
    assert duplicate_event_ids(con) == 0
    assert scalar(con, "SELECT count(*) FROM job_events WHERE NOT starts_with(source_file, ?)",
                  [f"s3://{bucket}/lake/date="]) == 0

    again = ingest_lake(con, lake_source(lake))  # incremental: nothing new
    assert (again.files, again.events_inserted) == (0, 0)

    later = S3LakeTelemetryEmitter(lake)  # a third writer replays one job: new object, no new rows
    JobService(InMemoryQueuePublisher(), later, progress_every=200).run(jobs[0])
    third = ingest_lake(con, lake_source(lake))
    assert third.files == 1 and third.events_read > 0 and third.events_inserted == 0
    assert scalar(con, "SELECT count(*) FROM lake_files") == 5


def test_a_failed_put_keeps_the_events_and_the_retry_writes_the_same_key(aws_env, s3, bucket, tmp_path):
    spec = DEMO_FEEDS[3]
    job = _job(write_sample(tmp_path, spec), spec)
    emitter = S3LakeTelemetryEmitter(f"s3://{bucket}-missing/lake")  # bucket does not exist yet
    service = JobService(InMemoryQueuePublisher(), emitter)
    try:
        service.run(job)
    except Exception as exc:
        assert "NoSuchBucket" in str(exc)
    else:
        raise AssertionError("a put into a missing bucket must fail")
    s3.create_bucket(Bucket=f"{bucket}-missing")
    emitter.flush()
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=f"{bucket}-missing")["Contents"]]
    assert len(keys) == 1 and keys[0].endswith("-000000.jsonl")
    body = s3.get_object(Bucket=f"{bucket}-missing", Key=keys[0])["Body"].read().decode()
    assert [line.count('"job.') for line in body.splitlines()] == [1, 1]  # started, completed
