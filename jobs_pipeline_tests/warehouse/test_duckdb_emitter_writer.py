"""The DuckDB emitter writes on its own thread: ``emit`` only queues, ``flush`` waits for the
commit, the queue is bounded, a failed write is retried and never loses or duplicates events."""

import threading
import time

import duckdb
import pytest

from jobs_pipeline.warehouse import duckdb_sink as duckdb_emitter
from jobs_pipeline.warehouse.duckdb_sink import DuckDBTelemetryEmitter
from jobs_pipeline.warehouse.events import WRITE_LOCK, duplicate_event_ids, ensure_schema
from jobs_pipeline_tests.telemetry.events_factory import stream


def rows(path) -> int:
    """Committed rows, seen through another connection of this process."""
    con = duckdb.connect(str(path))
    try:
        return con.execute("SELECT count(*) FROM job_events").fetchall()[0][0]
    finally:
        con.close()


def eventually(predicate, what: str, limit_s: float = 30.0) -> None:
    """Wait for a background effect (a bound against hanging, not a speed assertion)."""
    end = time.monotonic() + limit_s
    while not predicate():
        if time.monotonic() > end:
            pytest.fail(f"never happened: {what}")
        time.sleep(0.01)


def test_emit_queues_and_flush_commits_on_the_writer_thread(tmp_path, monkeypatch):
    writers = []
    real = duckdb_emitter.insert_events

    def spy(con, events, source):
        writers.append((threading.current_thread().name, len(events)))
        return real(con, events, source)

    monkeypatch.setattr(duckdb_emitter, "insert_events", spy)
    events = stream(10, "flush")
    emitter = DuckDBTelemetryEmitter(tmp_path / "t.duckdb", batch_size=1_000, max_age_s=3_600)
    for event in events:
        emitter.emit(event)
    assert writers == [] and rows(tmp_path / "t.duckdb") == 0  # nothing due: only queued
    emitter.flush()
    assert rows(tmp_path / "t.duckdb") == len(events)  # durable when flush returns
    assert writers == [("telemetry-duckdb-writer", len(events))]
    emitter.flush()  # nothing new: no write
    assert len(writers) == 1
    emitter.close()
    assert emitter.inserted == len(events) and emitter.stats.written == len(events)


def test_a_full_batch_or_an_old_event_is_written_without_flush(tmp_path):
    events = stream(20, "auto")
    emitter = DuckDBTelemetryEmitter(tmp_path / "t.duckdb", batch_size=25, max_age_s=3_600)
    for event in events[:25]:
        emitter.emit(event)
    eventually(lambda: emitter.stats.written == 25, "a full batch written")
    assert rows(tmp_path / "t.duckdb") == 25
    emitter.close()

    aged = DuckDBTelemetryEmitter(tmp_path / "t.duckdb", batch_size=1_000, max_age_s=0.05)
    aged.emit(events[30])
    eventually(lambda: aged.stats.written == 1, "an event older than max_age_s written")
    assert rows(tmp_path / "t.duckdb") == 26
    aged.close()


def test_the_queue_is_bounded_emit_waits_for_the_writer(tmp_path):
    events = stream(20, "bound")  # 68 events
    emitter = DuckDBTelemetryEmitter(tmp_path / "t.duckdb", batch_size=5, max_queue=10, max_age_s=3_600)
    done = threading.Event()

    def produce():
        for event in events:
            emitter.emit(event)
        done.set()

    with WRITE_LOCK:  # the writer's next insert blocks here
        producer = threading.Thread(target=produce)
        producer.start()
        eventually(lambda: emitter.stats.backpressure_waits > 0, "emit waiting on a full queue")
        assert not done.is_set() and len(emitter._queue) <= 10
    producer.join()
    emitter.close()
    assert emitter.inserted == len(events) == rows(tmp_path / "t.duckdb")


def test_a_failed_write_is_reported_by_flush_kept_and_retried(tmp_path):
    path = tmp_path / "t.duckdb"
    events = stream(10, "fail")
    emitter = DuckDBTelemetryEmitter(path, batch_size=1_000, max_age_s=3_600, max_backoff_s=0.05)
    other = duckdb.connect(str(path))
    other.execute("DROP TABLE job_events")  # every insert now fails
    for event in events:
        emitter.emit(event)
    with pytest.raises(RuntimeError, match="write failed"):
        emitter.flush()
    assert emitter.stats.failures >= 1 and emitter.stats.written == 0
    ensure_schema(other)  # the table is back: the writer's retry succeeds
    emitter.flush()
    emitter.emit(events[0])  # a re-emitted event: still one row
    emitter.close()
    assert other.execute("SELECT count(*) FROM job_events").fetchall()[0][0] == len(events) == emitter.inserted
    assert duplicate_event_ids(other) == 0
    other.close()


def test_close_reports_events_it_could_not_write(tmp_path):
    path = tmp_path / "t.duckdb"
    emitter = DuckDBTelemetryEmitter(path, batch_size=1_000, max_age_s=3_600, max_backoff_s=0.05,
                                     close_timeout_s=0.2)
    other = duckdb.connect(str(path))
    other.execute("DROP TABLE job_events")
    for event in stream(3, "lost"):
        emitter.emit(event)
    with pytest.raises(RuntimeError, match="events not written"):
        emitter.close()
    assert not emitter._thread.is_alive()
    with pytest.raises(RuntimeError, match="emit after close"):
        emitter.emit(stream(1, "late")[0])
    other.close()
