"""The event lake and the DuckDB tables built from it: exactly once, correct numbers."""

import uuid
from pathlib import Path

import pytest

from jobs_pipeline.domain.model import JobContext
from jobs_pipeline.jobs.service import JobService
from jobs_pipeline.queue.memory import InMemoryQueuePublisher
from jobs_pipeline.demo.samples import DEMO_FEEDS, write_sample
from jobs_pipeline.telemetry.lake import PART_GLOB, LakeTelemetryEmitter
from jobs_pipeline.warehouse.connection import connect, scalar
from jobs_pipeline.warehouse.events import duplicate_event_ids, ingest_lake
from jobs_pipeline.warehouse.tables import build_job_runs, build_marketplace_quality


def test_lake_files_become_visible_only_when_flushed(tmp_path):
    lake = LakeTelemetryEmitter(tmp_path)
    service = JobService(InMemoryQueuePublisher(), lake)
    from jobs_pipeline.domain.model import ValidationJob
    from jobs_pipeline.telemetry.events import EventType, make_event

    job = ValidationJob(feed_uri="f", context=JobContext(marketplace="m"))
    lake.emit(make_event(job, EventType.STARTED, attempt=1, sequence=0, metrics={}))
    assert list(tmp_path.glob("date=*/*")) == []  # buffered until flushed: nothing on disk yet
    lake.flush()
    [part] = list(tmp_path.glob(PART_GLOB))
    assert part.read_text().count("\n") == 1 and lake.writer_id in part.name
    del service


def test_two_writers_never_share_a_file(tmp_path):
    a, b = LakeTelemetryEmitter(tmp_path), LakeTelemetryEmitter(tmp_path)
    assert a.writer_id != b.writer_id


@pytest.fixture
def lake_with_jobs(tmp_path: Path):
    lake_dir = tmp_path / "lake"
    service = JobService(InMemoryQueuePublisher(), LakeTelemetryEmitter(lake_dir), progress_every=500)
    expected = {}
    for spec in DEMO_FEEDS:
        path = write_sample(tmp_path / "feeds", spec)
        ctx = JobContext(marketplace=spec.marketplace, category=spec.category, region=spec.region)
        outcome = service.run(service.create_job(path, ctx))
        expected[ctx.partition_key] = (spec.rows, spec.expected_errors)
        if spec is DEMO_FEEDS[0]:
            service.run(outcome.job)  # a redelivery of the same job: must count once
    broken = tmp_path / "feeds" / "empty.csv"
    broken.write_bytes(b"")
    service.run(service.create_job(broken, JobContext(marketplace="amazon", category="toys", region="MX")))
    return lake_dir, expected


def test_ingestion_is_incremental_and_exactly_once(tmp_path, lake_with_jobs):
    lake_dir, _ = lake_with_jobs
    db = tmp_path / "q.duckdb"
    with connect(db) as con:
        first = ingest_lake(con, lake_dir)
        # the redelivered 1200-record job re-emitted started, 2 progress and completed: 4 duplicates
        assert first.files > 0 and first.events_read - first.events_inserted == 4
        again = ingest_lake(con, lake_dir)
        assert (again.files, again.events_inserted) == (0, 0)
        assert duplicate_event_ids(con) == 0
        total = scalar(con, "SELECT count(*) FROM job_events")
    assert total == first.events_inserted


def test_job_runs_and_marketplace_quality_numbers(tmp_path, lake_with_jobs):
    lake_dir, expected = lake_with_jobs
    with connect(tmp_path / "q.duckdb") as con:
        ingest_lake(con, lake_dir)
        assert build_job_runs(con) == len(DEMO_FEEDS) + 1
        build_marketplace_quality(con)
        rows = con.execute(
            "SELECT marketplace || ':' || category || ':' || region, records_total, records_error, "
            "error_rate, jobs, jobs_failed FROM marketplace_quality"
        ).fetchall()
        failed = con.execute("SELECT status, error_type, attempts FROM job_runs WHERE region = 'MX'").fetchall()
    got = {key: (total, err) for key, total, err, *_ in rows}
    assert got == {**expected, "amazon:toys:MX": (0, 0)}
    for key, total, err, rate, jobs, jobs_failed in rows:
        assert rate == (pytest.approx(err / total) if total else 0)
        assert jobs == 1
        assert jobs_failed == (1 if key == "amazon:toys:MX" else 0)
    assert failed == [("failed", "FeedFormatError", 1)]


def test_a_corrupt_lake_line_is_not_silently_counted(tmp_path):
    lake_dir = tmp_path / "lake" / "date=2026-01-01"
    lake_dir.mkdir(parents=True)
    (lake_dir / f"part-x-{uuid.uuid4().hex}.jsonl").write_text("{not json\n")
    with connect(tmp_path / "q.duckdb") as con, pytest.raises(Exception):
        ingest_lake(con, tmp_path / "lake")
    with connect(tmp_path / "q.duckdb") as con:
        assert scalar(con, "SELECT count(*) FROM lake_files") == 0  # rolled back: retried next time


def test_the_caller_picks_the_lake_source_and_ingestion_knows_no_s3(tmp_path):
    import ast

    import jobs_pipeline.warehouse.events as events
    from jobs_pipeline.warehouse.lake_source import LocalLakeSource, lake_source
    from jobs_pipeline.warehouse.s3_lake_source import S3LakeSource

    assert lake_source(tmp_path) == LocalLakeSource(tmp_path)
    s3 = lake_source("s3://bucket/lake")
    assert isinstance(s3, S3LakeSource) and s3.root.uri() == "s3://bucket/lake/"
    with connect(tmp_path / "q.duckdb") as con, pytest.raises(ValueError, match="lake_source"):
        ingest_lake(con, "s3://bucket/lake")  # a URI is not a folder: no silent empty ingestion
    source = Path(events.__file__).read_text()
    imported = {n.module for n in ast.walk(ast.parse(source)) if isinstance(n, ast.ImportFrom)}
    assert "s3://" not in source and not any("s3" in (m or "") for m in imported)


def test_a_transaction_commits_or_rolls_back(tmp_path):
    from jobs_pipeline.warehouse.connection import transaction

    with connect(tmp_path / "q.duckdb") as con:
        con.execute("CREATE TABLE t (x INTEGER)")
        with transaction(con):
            con.execute("INSERT INTO t VALUES (1)")
        with pytest.raises(RuntimeError), transaction(con):
            con.execute("INSERT INTO t VALUES (2)")
            raise RuntimeError("boom")
        assert con.execute("SELECT list(x) FROM t").fetchall() == [([1],)]
