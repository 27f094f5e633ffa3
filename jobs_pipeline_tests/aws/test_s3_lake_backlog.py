"""The S3 lake (one object per writer and flush, never appended to) read by byte ranges, many
objects at once: its backlog is counted, and the kept copy of a duplicated id follows the
documented rule as for the local lake (moto server)."""

from datetime import timedelta

import duckdb

from jobs_pipeline.telemetry.s3_lake import S3LakeTelemetryEmitter
from jobs_pipeline.warehouse.connection import scalar
from jobs_pipeline.warehouse.events import Backlog, duplicate_event_ids, ingest_lake, lake_backlog
from jobs_pipeline.warehouse.lake_source import lake_source
from jobs_pipeline_tests.telemetry.events_factory import job_events


def _write(lake: str, jobs: range, *, shift: timedelta = timedelta(0)) -> S3LakeTelemetryEmitter:
    emitter = S3LakeTelemetryEmitter(lake)
    for i in jobs:
        for e in job_events(i, "s3-backlog"):
            emitter.emit(e.model_copy(update={"timestamp": e.timestamp + shift}))
        emitter.flush()  # one object per job, as JobService
    return emitter


def test_every_object_is_read_once_the_backlog_is_counted_and_the_earliest_copy_kept(aws_env, s3, bucket):
    lake = f"s3://{bucket}/lake"
    source = lake_source(lake)
    _write(lake, range(40), shift=timedelta(hours=1))  # 40 objects, later copies first
    con = duckdb.connect()
    assert lake_backlog(con, source).files == 40  # before any ingestion (no bookkeeping table yet)
    first = ingest_lake(con, source, batch_files=7)  # 6 transactions in one call
    assert first.files == 40 and lake_backlog(con, source) == Backlog(0, 0)

    _write(lake, range(25))  # the same ids, an hour earlier: these copies must win
    sizes = [o["Size"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="lake/")["Contents"]]
    pending = lake_backlog(con, source)
    assert pending.files == 25 and pending.bytes == sum(sizes) - first.bytes_read
    second = ingest_lake(con, source)
    assert (second.files, second.events_inserted) == (25, 0)
    assert lake_backlog(con, source) == Backlog(0, 0)
    expected = {str(e.event_id): e.timestamp for i in range(40) for e in job_events(i, "s3-backlog")}
    kept = dict(con.execute("SELECT event_id::VARCHAR, ts FROM job_events").fetchall())
    assert kept.keys() == expected.keys() and duplicate_event_ids(con) == 0
    assert sum(kept[k] == ts for k, ts in expected.items()) == sum(len(job_events(i, "s3-backlog")) for i in range(25))
    assert scalar(con, "SELECT count(*) FROM lake_files WHERE bytes = size") == 65
