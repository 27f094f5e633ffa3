"""Lake ingestion without an ``event_id`` index (schema 2): still exactly once.

Duplicates inside a file, across the files of one batch, across batches and against the
table; the per-file bookkeeping; batches committing on their own; writers serialised within a
process; and a schema-1 database (``event_id`` primary key) migrated in place.
"""

import shutil
import threading
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest

from jobs_pipeline.telemetry.lake import PART_GLOB, LakeTelemetryEmitter
from jobs_pipeline.warehouse.connection import connect, scalar
from jobs_pipeline.warehouse.events import duplicate_event_ids, ensure_schema, ingest_files, ingest_lake
from jobs_pipeline.warehouse.tables import build_job_runs
from jobs_pipeline_tests.telemetry.events_factory import stream

#: ``job_events`` as schema 1 created it (commit 1eecd19), kept here to test the migration.
SCHEMA_1_JOB_EVENTS = """
CREATE TABLE job_events (
    event_id UUID PRIMARY KEY, event_type VARCHAR NOT NULL, job_id UUID NOT NULL, task VARCHAR NOT NULL,
    ts TIMESTAMPTZ NOT NULL, marketplace VARCHAR NOT NULL, category VARCHAR NOT NULL, region VARCHAR NOT NULL,
    partition_key VARCHAR NOT NULL, attempt INTEGER NOT NULL, sequence INTEGER NOT NULL, ruleset VARCHAR,
    tier VARCHAR NOT NULL, records_total BIGINT, records_valid BIGINT, records_error BIGINT,
    records_warning BIGINT, payload_size_bytes BIGINT, processing_time_ms DOUBLE, latency_ms DOUBLE,
    error_rate DOUBLE, warning_rate DOUBLE, errors_by_field JSON, error_type VARCHAR, error_message VARCHAR,
    error_classification VARCHAR, retry_delay_s DOUBLE, metrics JSON NOT NULL, source_file VARCHAR NOT NULL,
    ingested_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE lake_files (path VARCHAR PRIMARY KEY, events BIGINT NOT NULL,
                         ingested_at TIMESTAMPTZ NOT NULL DEFAULT now());
"""


def write_part(lake: Path, events, copies: int = 1) -> Path:
    """One lake file holding ``events`` (each line ``copies`` times, adjacent)."""
    emitter = LakeTelemetryEmitter(lake, fsync=False)
    for event in events:
        for _ in range(copies):
            emitter.emit(event)
    emitter.close()
    [part] = [p for p in lake.glob(PART_GLOB) if p.name.startswith(f"part-{emitter.writer_id}-")]
    return part


def ids(con) -> list[str]:
    return [str(r[0]) for r in con.execute("SELECT event_id FROM job_events ORDER BY event_id").fetchall()]


def test_duplicates_within_a_file_a_batch_and_the_table_count_once(tmp_path):
    lake = tmp_path / "lake"
    events = stream(12, "dup")  # 12 jobs, some with a retry: ~44 events
    first, rest = events[:20], events[20:]
    doubled = write_part(lake, first, copies=2)  # every line twice, identical
    later = [e.model_copy(update={"timestamp": e.timestamp + timedelta(hours=1)}) for e in first[:5]]
    write_part(lake, rest + later)  # 5 ids again in another file of the same batch, later ts
    with connect(tmp_path / "q.duckdb") as con:
        stats = ingest_lake(con, lake)
        assert (stats.files, stats.events_read) == (2, 2 * 20 + len(rest) + 5)
        assert stats.events_inserted == len(events) == scalar(con, "SELECT count(*) FROM job_events")
        assert ids(con) == sorted(str(e.event_id) for e in events)
        # the earliest copy won: the 5 re-sent ids keep their first timestamp and file
        kept = dict(con.execute("SELECT event_id::VARCHAR, ts FROM job_events").fetchall())
        assert all(kept[str(e.event_id)] == e.timestamp for e in first)
        assert scalar(con, "SELECT count(*) FROM job_events WHERE source_file = ?", [str(doubled)]) == 20
        assert dict(con.execute("SELECT path, events FROM lake_files").fetchall())[str(doubled)] == 40

        # the same events again under new names (a copied / replayed file): nothing added
        copy_dir = tmp_path / "lake" / "date=2026-12-01"
        copy_dir.mkdir()
        for i, part in enumerate(sorted(lake.glob(PART_GLOB))):
            shutil.copy(part, copy_dir / f"part-copy-{i}.jsonl")
        again = ingest_lake(con, lake)
        assert (again.files, again.events_read, again.events_inserted) == (2, stats.events_read, 0)
        assert duplicate_event_ids(con) == 0 and scalar(con, "SELECT count(*) FROM job_events") == len(events)
        assert ingest_lake(con, lake) == type(again)(0, 0, 0)


def test_batches_commit_on_their_own_and_a_failed_one_is_retried(tmp_path):
    lake = tmp_path / "lake"
    events = stream(10, "batch")
    for k in range(5):  # 5 files; file k repeats the last 2 events of file k-1 (across batches)
        write_part(lake, events[max(0, k * 8 - 2):(k + 1) * 8])
    files = sorted(str(p) for p in lake.glob(PART_GLOB))
    bad = Path(files[3]).with_name("part-zz-corrupt.jsonl")
    bad.write_text('{"event_id": "not json\n')
    with connect(tmp_path / "q.duckdb") as con:
        with pytest.raises(duckdb.Error):
            ingest_files(con, files + [str(bad)], batch_files=2)  # batches: [0,1] [2,3] [4,bad]
        done = {r[0] for r in con.execute("SELECT path FROM lake_files").fetchall()}
        assert done == set(files[:4])  # the failing batch rolled back entirely, file 4 included
        assert scalar(con, "SELECT count(*) FROM job_events WHERE source_file = ?", [files[4]]) == 0
        bad.unlink()
        rest = ingest_lake(con, lake)
        assert rest.files == 1
        assert ids(con) == sorted({str(e.event_id) for e in events[:40]})
        assert duplicate_event_ids(con) == 0


def test_one_transaction_per_batch_gives_the_same_table_as_one_big_batch(tmp_path):
    lake = tmp_path / "lake"
    events = stream(15, "same")
    for k in range(6):
        write_part(lake, events[k * 9:(k + 1) * 9 + 3])  # overlaps of 3 events
    files = sorted(str(p) for p in lake.glob(PART_GLOB))
    cols = "event_id, event_type, ts, metrics::VARCHAR, source_file"
    tables = []
    for batch in (1, 4, 100):
        with connect(tmp_path / f"q{batch}.duckdb") as con:
            stats = ingest_files(con, files, batch_files=batch)
            assert stats.events_inserted == len({e.event_id for e in events[:57]})
            tables.append(con.execute(f"SELECT {cols} FROM job_events ORDER BY event_id").fetchall())
    assert tables[0] == tables[1] == tables[2]


def test_concurrent_writers_in_one_process_are_serialised(tmp_path):
    """Two threads with their own cursors ingest copies of the same events at once."""
    events = stream(40, "conc")
    a, b = tmp_path / "a", tmp_path / "b"
    for k in range(4):
        write_part(a, events[k * 40:(k + 1) * 40])
        write_part(b, events[k * 40:(k + 1) * 40])
    with connect(tmp_path / "q.duckdb") as con:
        ensure_schema(con)
        results, errors = [], []
        start = threading.Barrier(2)

        def run(lake: Path) -> None:
            cur = con.cursor()
            try:
                start.wait()
                results.append(ingest_lake(cur, lake))
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)
            finally:
                cur.close()

        threads = [threading.Thread(target=run, args=(d,)) for d in (a, b)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert sum(r.events_inserted for r in results) == len(events)
        assert duplicate_event_ids(con) == 0 and scalar(con, "SELECT count(*) FROM job_events") == len(events)


def test_a_schema_1_database_is_migrated_in_place(tmp_path):
    lake = tmp_path / "lake"
    events = stream(8, "old")
    first_part = write_part(lake, events)
    reference = tmp_path / "reference.duckdb"
    with connect(reference) as con:
        ingest_lake(con, lake)
    old = tmp_path / "old.duckdb"
    con = duckdb.connect(str(old))
    con.execute(SCHEMA_1_JOB_EVENTS)
    con.execute(f"ATTACH '{reference}' AS ref (READ_ONLY)")
    con.execute("INSERT INTO job_events SELECT * FROM ref.job_events")
    con.execute("INSERT INTO lake_files SELECT path, events, ingested_at FROM ref.lake_files")  # no offsets yet
    con.execute("DETACH ref")
    con.execute("CREATE VIEW failed_events AS SELECT * FROM job_events WHERE event_type = 'job.failed'")
    before = con.execute("SELECT * FROM job_events ORDER BY event_id").fetchall()
    columns = con.execute("SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = 'job_events' "
                          "ORDER BY column_index").fetchall()
    failed = scalar(con, "SELECT count(*) FROM failed_events")
    con.close()

    with connect(old) as con:
        new_events = stream(12, "old")[len(events):] + events[:3]  # 3 ids it already holds
        write_part(lake, new_events)
        stats = ingest_lake(con, lake)  # ensure_schema migrates first
        assert scalar(con, """SELECT count(*) FROM duckdb_constraints()
                              WHERE table_name = 'job_events' AND constraint_type = 'PRIMARY KEY'""") == 0
        assert con.execute("SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = 'job_events' "
                           "ORDER BY column_index").fetchall() == columns
        # the 3 ids held again (same timestamps) keep the copy of the file first in name order
        again = {str(e.event_id) for e in events[:3]}
        assert [r for r in con.execute("SELECT * FROM job_events WHERE source_file = ? ORDER BY event_id",
                                       [str(first_part)]).fetchall() if str(r[0]) not in again] == \
            [r for r in before if str(r[0]) not in again]
        assert stats.events_inserted == len(new_events) - 3
        assert scalar(con, "SELECT count(*) FROM failed_events") >= failed > 0  # the view still binds
        assert duplicate_event_ids(con) == 0
        assert build_job_runs(con) == 12
        ensure_schema(con)  # idempotent
        assert scalar(con, "SELECT count(*) FROM job_events") == len(events) + len(new_events) - 3
