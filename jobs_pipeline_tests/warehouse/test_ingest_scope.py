"""The duplicate check looks only at the batch's UTC days, yet stays exact.

A copy with the same timestamp (a redelivered or replayed file, a late event) is found however
late it comes; a copy re-emitted with a new timestamp is found within EVENT_DEDUP_WINDOW_DAYS,
and beyond it the ``job_events_unique_ids`` check counts it. The scope really skips the rest.
"""

import json
from datetime import timedelta

from jobs_pipeline.telemetry.lake import PART_GLOB, LakeTelemetryEmitter
from jobs_pipeline.warehouse import events as warehouse_events
from jobs_pipeline.warehouse.connection import connect, scalar
from jobs_pipeline.warehouse.events import DEDUP_WINDOW_DAYS, duplicate_event_ids, ingest_files, scope_of
from jobs_pipeline_tests.telemetry.events_factory import stream


def write_part(lake, events) -> list[str]:
    """The lake files (one per UTC day) holding ``events``."""
    emitter = LakeTelemetryEmitter(lake, fsync=False)
    for event in events:
        emitter.emit(event)
    emitter.close()
    return sorted(str(p) for p in lake.glob(PART_GLOB) if p.name.startswith(f"part-{emitter.writer_id}-"))


def _shifted(events, days: int):
    return [e.model_copy(update={"timestamp": e.timestamp + timedelta(days=days)}) for e in events]


def test_a_same_timestamp_copy_arriving_after_any_window_is_caught(tmp_path):
    old = stream(6, "old")  # events of one day
    filler = _shifted(stream(30, "fill"), 90)  # three months of newer history in between
    with connect(tmp_path / "q.duckdb") as con:
        ingest_files(con, write_part(tmp_path / "a", old))
        ingest_files(con, write_part(tmp_path / "b", filler))
        # 90 days later: a redelivered old file, and a batch mixing new events with one old copy
        again = ingest_files(con, write_part(tmp_path / "c", old))
        fresh = _shifted(stream(4, "new"), 91)
        mixed = ingest_files(con, write_part(tmp_path / "d", fresh + old[:1]))
        assert again.events_inserted == 0 and again.events_read == len(old)
        assert mixed.events_inserted == len(fresh) and mixed.events_read == len(fresh) + 1
        assert scalar(con, "SELECT count(*) FROM job_events") == len(old) + len(filler) + len(fresh)
        assert duplicate_event_ids(con) == 0


def test_a_re_emitted_copy_is_caught_within_the_window_and_counted_beyond_it(tmp_path):
    events = stream(5, "redo")
    with connect(tmp_path / "q.duckdb") as con:
        ingest_files(con, write_part(tmp_path / "a", events))
        # a redelivered job re-sends its events (same ids) with new timestamps
        within = ingest_files(con, write_part(tmp_path / "b", _shifted(events[:3], DEDUP_WINDOW_DAYS)))
        assert within.events_inserted == 0 and duplicate_event_ids(con) == 0
        late = _shifted(events[3:5], DEDUP_WINDOW_DAYS + 2)
        beyond = ingest_files(con, write_part(tmp_path / "c", late))
        assert beyond.events_inserted == 2
        assert duplicate_event_ids(con) == 2  # what the job_events_unique_ids check reports
        # a wider window (EVENT_DEDUP_WINDOW_DAYS) catches it
        wide = ingest_files(con, write_part(tmp_path / "d", _shifted(events[:2], DEDUP_WINDOW_DAYS + 2)),
                            window_days=DEDUP_WINDOW_DAYS + 3)
        assert wide.events_inserted == 0


def _rows_scanned(node: dict) -> int:
    own = int(node.get("rows_scanned", 0)) if node.get("type") == "TABLE_SCAN" else 0
    return own + sum(_rows_scanned(c) for c in node.get("children", []))


def test_the_scope_skips_the_other_days(tmp_path):
    assert scope_of([]) == "false"
    days = [e.timestamp.date() for e in (_shifted(stream(1), k)[0] for k in (0, 1, 10))]
    assert scope_of(days, 1).count(" OR ") == 1  # days 0 and 1 merge into one range, day 10 is another
    with connect(tmp_path / "big.duckdb") as con:
        ingest_files(con, write_part(tmp_path / "a", stream(2, "seed")))
        # 1M rows of history, 100k a day, in chronological order (as hourly lake files arrive)
        con.execute("""INSERT INTO job_events SELECT e.* REPLACE (uuid() AS event_id, 'history' AS source_file,
                           ts - INTERVAL 30 DAY + to_microseconds(i * 864000) AS ts)
                       FROM (SELECT * FROM job_events LIMIT 1) e, range(1000000) r(i)""")
        con.execute("CHECKPOINT")
        last = scalar(con, "SELECT max(rowid) FROM job_events")
        new = _shifted(stream(3, "new"), 30)
        ingest = warehouse_events.append_batch(
            con, f"read_json($files, format='newline_delimited', columns={warehouse_events._READ_COLUMNS}, "
                 "filename=true)", {"files": write_part(tmp_path / "b", new)})
        assert ingest[0] == last
        sql = warehouse_events._DUPLICATES_SQL.replace(
            "__SCOPE__", scope_of(warehouse_events.batch_days(con, last)))
        con.execute("PRAGMA enable_profiling='json'")
        con.execute(f"PRAGMA profiling_output='{tmp_path / 'profile.json'}'")
        batch, doomed, replaced_days = con.execute(sql, {"last": last}).fetchall()[0]
        con.execute("PRAGMA disable_profiling")
    assert (batch, doomed, replaced_days) == (len(new), [], [])
    profile = json.loads((tmp_path / "profile.json").read_text())
    scanned = sum(_rows_scanned(op) for op in profile["operator"])
    assert 0 < scanned < 1_000_000 // 2  # the held ids come from ~5 of the 30 days, not the table
