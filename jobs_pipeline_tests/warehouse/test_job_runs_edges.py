"""Edges of ``job_runs`` and the marts: an unfinished later attempt, ``peak_hour`` ties,
``is_partial`` (and its migration onto an existing mart), and the changed days of a rebuild."""

import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from jobs_pipeline.warehouse import marts
from jobs_pipeline.warehouse.connection import connect
from jobs_pipeline.warehouse.events import ensure_schema
from jobs_pipeline.warehouse.mart_checks import check_day
from jobs_pipeline.warehouse.tables import refresh_job_runs
from jobs_pipeline_tests.warehouse.history import _event

DAY = date(2026, 3, 10)


def _at(hour: int, minute: int = 0, day: date = DAY) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def _metrics(total: int = 100, errors: int = 10) -> dict:
    return {"records_total": total, "records_valid": total - errors, "records_error": errors,
            "records_warning": 0, "payload_size_bytes": total, "processing_time_ms": 5.0, "latency_ms": 9.0,
            "error_rate": errors / total, "warning_rate": 0.0, "errors_by_field": {"price": errors},
            "errors_by_rule": {"price_positive": errors}}


def _insert(con: duckdb.DuckDBPyConnection, rows: list[dict]) -> None:
    ensure_schema(con)
    table = pa.Table.from_pylist([{**r, "event_id": str(r["event_id"]), "job_id": str(r["job_id"])} for r in rows])
    con.register("new_events", table)
    cols = ", ".join(f'"{c}"' for c in rows[0])
    con.execute(f"INSERT INTO job_events ({cols}) SELECT {cols} FROM new_events")
    con.unregister("new_events")


def _job(events: list[tuple], region: str = "BR") -> list[dict]:
    """Events of one job: (event_type, ts, attempt, sequence[, metrics])."""
    job_id = uuid.uuid4()
    out = []
    for etype, ts, attempt, seq, *m in events:
        error = ("Timeout", "slow", "transient") if etype in ("job.failed", "job.retrying") else None
        out.append(_event(job_id, etype, ts, "amazon", "toys", region, attempt, seq, m[0] if m else None, error=error))
    return out


@pytest.fixture
def con(tmp_path: Path):
    with connect(tmp_path / "q.duckdb") as c:
        yield c


def _status(con, job_rows: list[dict]) -> tuple[str, date]:
    return tuple(con.execute("SELECT status, day FROM job_runs WHERE job_id = $j",
                             {"j": str(job_rows[0]["job_id"])}).fetchall()[0])


def test_a_later_attempt_still_running_is_not_failed_and_counts_when_it_ends(con) -> None:
    failed_then_restarted = _job([("job.started", _at(9), 1, 0), ("job.failed", _at(9, 5), 1, 1),
                                  ("job.started", _at(10), 2, 0)])
    retrying = _job([("job.started", _at(9), 1, 0), ("job.retrying", _at(9, 1), 1, 1)])
    failed = _job([("job.started", _at(9), 1, 0), ("job.failed", _at(9, 5), 1, 1)])
    _insert(con, failed_then_restarted + retrying + failed)
    refresh_job_runs(con)
    assert _status(con, failed_then_restarted) == ("running", DAY)  # not finished: not counted
    assert _status(con, retrying) == ("retrying", DAY)
    assert _status(con, failed) == ("failed", DAY)
    marts.refresh_day(con, marts.MARKETPLACE_QUALITY_DAILY, DAY)
    assert con.execute("SELECT jobs, jobs_failed FROM marketplace_quality_daily").fetchall() == [(1, 1)]

    # attempt 2 completes the next day: the job is completed, on that day
    next_day = DAY + timedelta(days=1)
    _insert(con, [_event(failed_then_restarted[0]["job_id"], "job.completed", _at(1, day=next_day),
                         "amazon", "toys", "BR", 2, 1, _metrics())])
    changed = refresh_job_runs(con).changed_days
    assert _status(con, failed_then_restarted) == ("completed", next_day)
    assert changed == [next_day]  # the running job never counted on DAY: DAY's finished rows did not change


def test_peak_hour_ties_go_to_the_earliest_hour(con) -> None:
    rows = []
    for hour in (15, 8, 8, 15, 20):  # 08:00 and 15:00 both have two jobs
        rows += _job([("job.started", _at(hour), 1, 0), ("job.completed", _at(hour, 30), 1, 1, _metrics())])
    _insert(con, rows)
    refresh_job_runs(con)
    marts.refresh_day(con, marts.REGION_LATENCY_DAILY, DAY)
    got = con.execute("SELECT marketplace, peak_hour, peak_jobs_per_hour FROM region_latency_daily "
                      "ORDER BY marketplace").fetchall()
    assert got == [("(all)", datetime(2026, 3, 10, 8), 2), ("amazon", datetime(2026, 3, 10, 8), 2)]


def test_is_partial_marks_the_day_not_ended_at_refresh(con) -> None:
    rows = _job([("job.started", _at(9), 1, 0), ("job.completed", _at(9, 30), 1, 1, _metrics())])
    _insert(con, rows)
    refresh_job_runs(con)
    for mart in marts.MARTS.values():
        marts.refresh_day(con, mart, DAY, now=_at(12))  # during the day
        assert con.execute(f"SELECT DISTINCT is_partial FROM {mart.table}").fetchall() == [(True,)]
        assert check_day(con, mart.table, DAY)["is_partial_wrong"] == 0
        marts.refresh_day(con, mart, DAY, now=_at(0, 30, DAY + timedelta(days=1)))  # after midnight UTC
        assert con.execute(f"SELECT DISTINCT is_partial FROM {mart.table}").fetchall() == [(False,)]
        nullable = con.execute("SELECT is_nullable FROM information_schema.columns WHERE table_name = $t "
                               "AND column_name = 'is_partial'", {"t": mart.table}).fetchall()
        assert nullable == [("NO",)]


def test_a_mart_built_before_is_partial_gets_it_from_refreshed_at(con) -> None:
    rows = _job([("job.started", _at(9), 1, 0), ("job.completed", _at(9, 30), 1, 1, _metrics())])
    _insert(con, rows)
    refresh_job_runs(con)
    mart = marts.MARKETPLACE_QUALITY_DAILY
    marts.refresh_day(con, mart, DAY, now=_at(12))
    marts.refresh_day(con, mart, DAY - timedelta(days=1), now=_at(12))  # empty day: no rows
    con.execute("ALTER TABLE marketplace_quality_daily DROP COLUMN is_partial")  # an old database
    con.execute("INSERT INTO marketplace_quality_daily SELECT * REPLACE (DATE '2026-03-01' AS day) "
                "FROM marketplace_quality_daily")  # refreshed at 03-10 12:00: long ended
    marts.ensure_mart(con, mart)
    got = dict(con.execute("SELECT day, is_partial FROM marketplace_quality_daily").fetchall())
    assert got == {DAY: True, date(2026, 3, 1): False}


def test_changed_days_name_exactly_the_days_whose_finished_rows_changed(con) -> None:
    a = _job([("job.started", _at(9), 1, 0), ("job.completed", _at(9, 30), 1, 1, _metrics())])
    b = _job([("job.started", _at(9, day=DAY + timedelta(days=1)), 1, 0)])
    _insert(con, a + b)
    assert refresh_job_runs(con).changed_days == [DAY]  # first build: every day with finished jobs
    assert refresh_job_runs(con).changed_days == []  # nothing new
    _insert(con, [_event(a[0]["job_id"], "job.progress", _at(23, 0), "amazon", "toys", "BR",
                         1, 2, None)])  # a late progress event: still DAY, but last_event_at moved
    assert refresh_job_runs(con).changed_days == [DAY]
    _insert(con, [_event(a[0]["job_id"], "job.progress", _at(0, 10, DAY + timedelta(days=2)),
                         "amazon", "toys", "BR", 1, 3, None)])  # moves the job two days on
    assert refresh_job_runs(con).changed_days == [DAY, DAY + timedelta(days=2)]
    errors = con.execute("SELECT day, kind, sum(n) FROM job_run_errors GROUP BY ALL ORDER BY ALL").fetchall()
    assert errors == [(DAY + timedelta(days=2), "field", 10), (DAY + timedelta(days=2), "rule", 10)]
