"""Late events reach the marts through the asset graph: events landing days late change
``job_runs``, its materialisation names the changed days, ``job_runs_changed_days_sensor``
asks for those days' marts (and the hot spots' next 7 days), and after those runs every mart
equals a recomputation from ``job_events`` and every check passes on every day."""

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from jobs_pipeline.defs.quality import marts as mart_defs
from jobs_pipeline.defs.quality.late_days import job_runs_changed_days_sensor
from jobs_pipeline.defs.quality.tables import job_runs
from jobs_pipeline.defs.resources.warehouse import DuckDBWarehouseResource
from jobs_pipeline.warehouse import marts
from jobs_pipeline.warehouse.connection import connect
from jobs_pipeline.warehouse.mart_checks import check_days
from jobs_pipeline.warehouse.tables import refresh_job_runs
from jobs_pipeline_tests.warehouse import expected
from jobs_pipeline_tests.warehouse.history import History, _event, load_history
from jobs_pipeline_tests.warehouse.test_job_runs_edges import _insert, _metrics

DAY_ASSETS = [mart_defs.marketplace_quality_daily, mart_defs.field_error_hotspots, mart_defs.region_latency_daily,
              mart_defs.quality_anomalies, mart_defs.quality_recommendations]


def _late_events(history: History) -> tuple[list[dict], list[dict], set]:
    """(events on time, events landing late, the days the late ones change)."""
    days = history.days
    by_job: dict = {}
    for r in history.rows:
        by_job.setdefault(r["job_id"], []).append(r)

    def ending_on(day, n):
        return [j for j, evs in by_job.items()
                if max(e["ts"] for e in evs).date() == day and evs[-1]["event_type"] == "job.completed"][:n]

    held = {id(e) for j in ending_on(days[20], 2) + ending_on(days[40], 1) for e in by_job[j][-1:]}
    on_time = [r for r in history.rows if id(r) not in held]
    late = [r for r in history.rows if id(r) in held]
    # a job of days[50] redelivered: its attempt 2 ends after midnight, with other numbers
    [moved] = ending_on(days[50], 1)
    first = by_job[moved][0]
    start = datetime(days[51].year, days[51].month, days[51].day, 0, 20, tzinfo=UTC)
    args = (first["marketplace"], first["category"], first["region"])
    late += [_event(uuid.UUID(moved), "job.started", start, *args, 2, 0, None),
             _event(uuid.UUID(moved), "job.completed", start + timedelta(minutes=5), *args, 2, 1,
                    _metrics(total=700, errors=70))]
    return on_time, late, {days[20], days[40], days[50], days[51]}


@pytest.fixture
def late_db(tmp_path: Path, history: History):
    on_time, late, changed = _late_events(_as_str_ids(history))
    path = tmp_path / "quality.duckdb"
    with connect(path) as con:
        load_history(con, History(rows=on_time))
        refresh_job_runs(con)
        for mart in marts.MARTS.values():  # the marts as they were before the late events
            marts.refresh_days(con, mart, history.days[0], history.days[-1])
    return path, late, changed


def _as_str_ids(history: History) -> History:
    return History(rows=[{**r, "job_id": str(r["job_id"])} for r in history.rows])


def test_late_events_rebuild_exactly_their_days_and_every_mart_equals_a_recomputation(late_db, history):
    path, late, changed = late_db
    days = history.days
    resources = {"warehouse": DuckDBWarehouseResource(path=str(path), lake_dir=str(path.parent / "lake"))}
    with connect(path) as con:
        _insert(con, late)

    with dg.instance_for_test() as instance:
        built = dg.materialize([job_runs], instance=instance, resources=resources)
        meta = built.asset_materializations_for_node("job_runs")[0].metadata
        assert sorted(meta["changed_days"].value) == sorted(d.isoformat() for d in changed)
        with connect(path, read_only=True) as con:  # the marts are now stale on exactly those days
            stale = check_days(con, "marketplace_quality_daily", days[0], days[-1])
        assert {d for d, f in stale.items() if f["reconcile_difference"]} == changed

        tick = job_runs_changed_days_sensor(dg.build_sensor_context(instance=instance))
        again = job_runs_changed_days_sensor(dg.build_sensor_context(instance=instance))
        assert [r.run_key for r in tick.run_requests] == [r.run_key for r in again.run_requests]  # content keys
        requested: dict[str, set] = {}
        for request in tick.run_requests:
            tags = dict(request.tags)
            first = tags.get("dagster/asset_partition_range_start", request.partition_key)
            last = tags.get("dagster/asset_partition_range_end", request.partition_key)
            span = pd.date_range(first, last).date
            for key in request.asset_selection:
                requested.setdefault(key.to_user_string(), set()).update(span)
            run = dg.materialize([*DAY_ASSETS, *mart_defs.mart_checks, *mart_defs.recommendation_checks], selection=request.asset_selection,
                                 partition_key=request.partition_key, tags=tags, instance=instance,
                                 resources=resources)
            assert run.success
            failed = [(e.asset_key.to_user_string(), e.check_name, e.metadata) for e in
                      run.get_asset_check_evaluations() if not e.passed]
            assert not failed
        trend = {d + timedelta(days=i) for d in changed for i in range(1, 8)}
        assert requested["marketplace_quality_daily"] == requested["region_latency_daily"] == changed
        assert requested["field_error_hotspots"] == changed | trend
        assert requested["quality_anomalies"] == changed
        assert requested["quality_recommendations"] == changed | trend  # its trend reads the day too

        later = job_runs_changed_days_sensor(dg.build_sensor_context(instance=instance, cursor=tick.cursor))
        assert isinstance(later, dg.SkipReason)  # the cursor moved past the materialisation

    with connect(path, read_only=True) as con:
        for table in marts.MARTS:
            for day, figures in check_days(con, table, days[0], days[-1]).items():
                bad = {k: v for k, v in figures.items() if k not in ("rows", "jobs_that_day") and v}
                assert not bad, (table, day, bad)
        con.execute("SET TimeZone = 'UTC'")
        frames = {n: con.execute(f"SELECT * FROM {n}").df() for n in
                  ("job_events", "marketplace_quality_daily", "field_error_hotspots", "region_latency_daily")}
    final = expected.final_events(frames["job_events"])
    _assert_marts_equal_recomputation(frames, final, days)


def _assert_marts_equal_recomputation(frames, final, days) -> None:
    keys = ["day", "marketplace", "category", "region"]
    got = frames["marketplace_quality_daily"].assign(day=lambda d: pd.to_datetime(d["day"]).dt.date)
    want = expected.marketplace_quality_daily(final)
    merged = want.merge(got, on=keys, how="outer", suffixes=("_want", "_got"), indicator=True)
    assert (merged["_merge"] == "both").all()
    for col in ("jobs", "jobs_failed", "records_total", "records_error", "payload_size_bytes"):
        assert (merged[f"{col}_want"].astype("int64") == merged[f"{col}_got"].astype("int64")).all(), col
    assert not got["is_partial"].any()  # every day had ended when refreshed

    hot = frames["field_error_hotspots"].assign(day=lambda d: pd.to_datetime(d["day"]).dt.date)
    lat = frames["region_latency_daily"].assign(day=lambda d: pd.to_datetime(d["day"]).dt.date)
    hkeys = ["marketplace", "ruleset", "kind", "name"]
    for day in days:
        want_h = expected.field_error_hotspots(final, day)
        m = want_h.merge(hot[hot["day"] == day], on=hkeys, how="outer", suffixes=("_want", "_got"), indicator=True)
        assert (m["_merge"] == "both").all(), day
        assert (m["errors_want"] == m["errors_got"]).all() and (m["errors_prev_7d_want"] == m["errors_prev_7d_got"]).all(), day
        want_l = expected.region_latency_daily(final, day)
        m = want_l.merge(lat[lat["day"] == day], on=["region", "marketplace"], how="outer",
                         suffixes=("_want", "_got"), indicator=True)
        assert (m["_merge"] == "both").all(), day
        assert (m["jobs_want"] == m["jobs_got"]).all(), day
        assert (m["processing_p95_ms_want"] - m["processing_p95_ms_got"]).abs().max() < 1e-6, day
