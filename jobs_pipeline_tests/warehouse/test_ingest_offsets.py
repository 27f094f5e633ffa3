"""Ingestion from the append-only lake: by byte offset, complete lines only, everything in one
run, and the kept copy of a duplicated id fixed by the documented rule whatever the batches.

Both ways a batch is staged run every test: kernel copies of a few files, and tagged lines of
many (a lake of one file per flush, S3)."""

from datetime import timedelta
from pathlib import Path

import pytest

from jobs_pipeline.telemetry.lake import PART_GLOB, LakeTelemetryEmitter, lake_line
from jobs_pipeline.warehouse import events as warehouse_events
from jobs_pipeline.warehouse.connection import connect, scalar
from jobs_pipeline.warehouse.events import (
    DEDUP_WINDOW_DAYS, Backlog, IngestStats, duplicate_event_ids, ingest_files, ingest_lake, lake_backlog,
)
from jobs_pipeline.warehouse.lake_source import LocalLakeSource
from jobs_pipeline_tests.telemetry.events_factory import job_events, stream

#: Every column but the ingestion time, the lake file by its name (each run has its own folder).
ROWS = ("SELECT * EXCLUDE (ingested_at, source_file), regexp_extract(source_file, '[^/]+$') AS file "
        "FROM job_events ORDER BY event_id")


@pytest.fixture(params=["copies", "tagged"], autouse=True)
def staging(request, monkeypatch):
    if request.param == "tagged":
        monkeypatch.setattr(warehouse_events, "COPY_MAX_RANGES", 0)
    return request.param


def write(lake: Path, name: str, events, *, mode: str = "w") -> Path:
    """Lake lines of ``events`` in ``<lake>/date=<first event's day>/<name>``."""
    folder = lake / f"date={events[0].timestamp:%Y-%m-%d}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    with path.open(mode + "b") as fh:
        fh.write("".join(lake_line(e, "urn:test") + "\n" for e in events).encode())
    return path


def test_a_growing_file_is_read_from_its_offset_and_only_whole_lines(tmp_path):
    lake = tmp_path / "lake"
    emitter = LakeTelemetryEmitter(lake, fsync=False)
    first, second = job_events(1, "grow"), job_events(2, "grow")
    for e in first:
        emitter.emit(e)
    emitter.flush()
    [part] = lake.glob(PART_GLOB)
    with connect(tmp_path / "q.duckdb") as con:
        one = ingest_lake(con, lake)
        assert (one.files, one.events_read, one.bytes_read) == (1, len(first), part.stat().st_size)
        for e in second:  # the same writer appends the next job to the same file
            emitter.emit(e)
        emitter.flush()
        assert list(lake.glob(PART_GLOB)) == [part]
        flushed = part.stat().st_size
        line = lake_line(job_events(3, "grow")[0], "urn:test").encode()
        with part.open("ab") as fh:  # a reader sees a line half written
            fh.write(line[:40])
        assert lake_backlog(con, LocalLakeSource(lake)) == Backlog(1, flushed + 40 - one.bytes_read)
        two = ingest_lake(con, lake)
        assert (two.events_read, two.bytes_read) == (len(second), flushed - one.bytes_read)
        assert con.execute("SELECT events, bytes, size FROM lake_files").fetchall() == \
            [(len(first) + len(second), flushed, flushed + 40)]
        assert lake_backlog(con, LocalLakeSource(lake)) == Backlog(0, 0)  # a tail that did not grow is not new
        assert ingest_lake(con, lake) == IngestStats(0, 0, 0)
        with part.open("ab") as fh:  # the line is finished
            fh.write(line[40:] + b"\n")
        three = ingest_lake(con, lake)
        assert (three.files, three.events_read, three.events_inserted) == (1, 1, 1)
        assert scalar(con, "SELECT count(*) FROM job_events") == len(first) + len(second) + 1
        assert scalar(con, "SELECT bytes FROM lake_files") == part.stat().st_size
    emitter.close()


def test_one_run_ingests_every_batch_until_nothing_is_left(tmp_path):
    lake = tmp_path / "lake"
    for k in range(30):  # 30 writers (one file each), 2 jobs apiece
        emitter = LakeTelemetryEmitter(lake, fsync=False)
        for e in job_events(2 * k, "all") + job_events(2 * k + 1, "all"):
            emitter.emit(e)
        emitter.close()
    files = list(lake.glob(PART_GLOB))
    assert len(files) == 30
    with connect(tmp_path / "q.duckdb") as con:
        assert lake_backlog(con, LocalLakeSource(lake)).files == 30
        stats = ingest_lake(con, lake, batch_files=4)  # 8 transactions, one call
        assert (stats.files, stats.events_inserted) == (30, scalar(con, "SELECT count(*) FROM job_events"))
        assert stats.bytes_read == sum(f.stat().st_size for f in files)
        assert lake_backlog(con, LocalLakeSource(lake)) == Backlog(0, 0)
        assert scalar(con, "SELECT count(*) FROM lake_files WHERE bytes = size") == 30


def _copies(lake: Path, events) -> dict[str, list]:
    """Three copies of every id: ``part-b`` a day later with other metrics, ``part-c`` the
    original, and ``part-a`` (first 10 ids) at the original time with other metrics."""
    later = [e.model_copy(update={"timestamp": e.timestamp + timedelta(days=1), "metrics": {"payload_size_bytes": 7}})
             for e in events]
    tied = [e.model_copy(update={"metrics": {"payload_size_bytes": 1}}) for e in events[:10]]
    return {"b": later, "c": list(events), "a": tied}


def _paths(lake: Path, copies: dict[str, list]) -> dict[str, str]:
    return {k: str(write(lake, f"part-{k}.jsonl", v)) for k, v in copies.items()}


def test_the_kept_copy_is_the_documented_one_whatever_the_batches(tmp_path):
    events = stream(6, "kept")
    tables = []

    def run(label: str, ingest) -> None:
        lake = tmp_path / label / "lake"
        paths = _paths(lake, _copies(lake, events))
        with connect(tmp_path / label / "q.duckdb") as con:
            ingest(con, lake, paths)
            assert duplicate_event_ids(con) == 0
            tables.append(con.execute(ROWS).fetchall())
            kept = {str(r[0]): (r[1], r[2], r[3]) for r in con.execute(
                "SELECT event_id, ts, payload_size_bytes, source_file FROM job_events").fetchall()}
        for i, e in enumerate(events):  # the earliest ts; tied: the file first by name (part-a)
            ts, payload, source = kept[str(e.event_id)]
            assert ts == e.timestamp, label
            assert Path(source).name == ("part-a.jsonl" if i < 10 else "part-c.jsonl"), label
            assert payload == (1 if i < 10 else e.metrics.get("payload_size_bytes")), label

    run("all-at-once", lambda con, lake, p: ingest_lake(con, lake))
    run("one-per-batch", lambda con, lake, p: ingest_lake(con, lake, batch_files=1))
    for order in ("bca", "abc", "cab", "bac"):
        run(f"order-{order}", lambda con, lake, p, order=order: [ingest_files(con, [p[k]]) for k in order])

    def split_files(con, lake, p):  # files ingested while they grow: a split inside each file
        whole = {k: Path(v).read_bytes() for k, v in p.items()}
        for k in "cba":
            cut = whole[k].index(b"\n", len(whole[k]) // 2) + 1
            Path(p[k]).write_bytes(whole[k][:cut])
            ingest_lake(con, lake)
            Path(p[k]).write_bytes(whole[k])
        ingest_lake(con, lake)

    run("growing", split_files)
    assert all(t == tables[0] for t in tables[1:])


def test_an_earlier_copy_arriving_later_replaces_the_held_row_and_its_day_is_reported(tmp_path):
    events = stream(4, "late")
    copies = _copies(tmp_path / "lake", events)
    lake = tmp_path / "lake"
    paths = _paths(lake, copies)
    with connect(tmp_path / "q.duckdb") as con:
        held = ingest_files(con, [paths["b"]])  # the copies a day later come first
        assert held.events_inserted == len(events)
        earlier = ingest_files(con, [paths["c"]])
        assert earlier.events_inserted == 0  # same ids: no new rows...
        day, next_day = events[0].timestamp.date(), events[0].timestamp.date() + timedelta(days=1)
        assert {day, next_day} <= set(earlier.days)  # ...but both days changed
        assert scalar(con, "SELECT count(*) FROM job_events WHERE source_file = ?", [paths["b"]]) == 0
        assert 1 <= DEDUP_WINDOW_DAYS and duplicate_event_ids(con) == 0


def test_a_file_removed_after_listing_is_read_as_empty(tmp_path):
    """A writer removes its file when its first flush failed (nothing in it was durable)."""
    lake = tmp_path / "lake"
    kept = write(lake, "part-kept.jsonl", job_events(1, "gone"))
    gone = kept.with_name("part-gone.jsonl")

    class Listed(LocalLakeSource):
        def listing(self):
            return super().listing() + [warehouse_events.LakeFile(str(gone), 120)]

    with connect(tmp_path / "q.duckdb") as con:
        stats = ingest_lake(con, Listed(lake), rounds=1)
        assert (stats.files, stats.events_read) == (1, len(job_events(1, "gone")))
        assert con.execute("SELECT path, events, bytes FROM lake_files ORDER BY path").fetchall() == \
            [(str(gone), 0, 0), (str(kept), len(job_events(1, "gone")), kept.stat().st_size)]
