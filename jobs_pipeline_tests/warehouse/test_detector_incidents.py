"""Incidents, region incidents, partial days, non-negative baselines and the job carrying a
day's errors: the detector through ``quality_anomaly_scores`` (a real DuckDB file) and the
alert sensor reading it."""

import json
import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest

from jobs_pipeline.defs.quality import alerts as alerts_defs
from jobs_pipeline.defs.quality.alerts import quality_alert_sensor
from jobs_pipeline.defs.resources.warehouse import DuckDBWarehouseResource
from jobs_pipeline.warehouse import anomalies
from jobs_pipeline.warehouse.connection import connect
from jobs_pipeline.warehouse.detector import DEFAULT_RULES, judge

START = date(2026, 1, 5)  # a Monday
DAYS = 110
KEYS = [f"{m}:{c}:{r}" for r in ("BR", "US") for m in ("amazon", "shopee", "meli") for c in ("toys", "books")]
WEEK = (1.3, 1.1, 1.0, 1.0, 0.95, 0.6, 0.5)
AFTER_ALL = datetime(2027, 1, 1, tzinfo=UTC)  # every day has ended


@pytest.fixture(autouse=True)
def no_settling(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(alerts_defs, "SETTLE_SECONDS", 0.0)


def _build(path: Path, change=lambda key, i, vol, err: (vol, err), partial_column: bool = False) -> None:
    """A minimal marketplace_quality_daily (the columns the detector reads) and job_runs."""
    rng = random.Random(5)
    rows = []
    for k, key in enumerate(KEYS):
        base = 2000 + 300 * k
        for i in range(DAYS):
            d = START + timedelta(days=i)
            vol = base * WEEK[d.weekday()] * rng.uniform(0.96, 1.04)
            err = 0.03 * rng.uniform(0.95, 1.05)
            vol, err = change(key, i, vol, err)
            if vol is not None:
                rows.append((d, key, round(vol), err, False))
    with connect(path) as con:
        con.execute("CREATE TABLE marketplace_quality_daily (day DATE, partition_key VARCHAR, records_total BIGINT, "
                    "error_rate DOUBLE, is_partial BOOLEAN)")
        con.executemany("INSERT INTO marketplace_quality_daily VALUES (?, ?, ?, ?, ?)", rows)
        if not partial_column:
            con.execute("ALTER TABLE marketplace_quality_daily DROP COLUMN is_partial")
        con.execute("CREATE TABLE job_runs (job_id VARCHAR, partition_key VARCHAR, day DATE, status VARCHAR, "
                    "records_error BIGINT)")


def _refresh(path: Path, days: range, now: datetime = AFTER_ALL) -> None:
    with connect(path) as con:
        for i in days:
            anomalies.refresh_day(con, START + timedelta(days=i), now=now)


def _rows(path: Path, sql: str) -> list[tuple]:
    with connect(path, read_only=True) as con:
        return con.execute(sql).fetchall()


def _tick(instance, path: Path, cursor: str | None = None) -> dg.SensorResult:
    warehouse = DuckDBWarehouseResource(path=str(path), lake_dir=str(path.parent / "lake"))
    with connect(path) as con:
        warehouse.publish(con)
    result = quality_alert_sensor(dg.build_sensor_context(instance=instance, cursor=cursor,
                                                          resources={"warehouse": warehouse}))
    assert isinstance(result, dg.SensorResult), result
    return result


def test_level_shift_is_one_incident_opened_then_adapted(tmp_path: Path) -> None:
    shift = 80  # from day 80 on, amazon:toys:BR runs at 2.2x its volume for good
    path = tmp_path / "q.duckdb"
    _build(path, lambda key, i, vol, err: (vol * 2.2 if key == "amazon:toys:BR" and i >= shift else vol, err))
    _refresh(path, range(70, DAYS))
    states = _rows(path, "SELECT day, incident_state, incident_id, status FROM quality_anomaly_scores "
                         "WHERE partition_key = 'amazon:toys:BR' AND metric = 'records_total' "
                         "AND incident_state IS NOT NULL ORDER BY day")
    assert states[0][:2] == (START + timedelta(days=shift), "opened")
    assert {s for _, s, _, _ in states[1:-1]} == {"ongoing"} and len(states) > 10
    assert states[-1][1] == "adapted" and states[-1][3] == "normal"  # the baseline caught up
    assert len({i for _, _, i, _ in states}) == 1  # one incident, one id
    assert _rows(path, "SELECT count(*) FROM quality_anomaly_scores WHERE incident_state = 'opened'") == [(1,)]

    # The sensor: one alert at the opening; the ongoing days are logged; one when it closes.
    with connect(path) as con:
        con.execute("DELETE FROM quality_anomaly_scores WHERE day > $d",
                    {"d": START + timedelta(days=shift + 5)})
    with dg.instance_for_test() as instance:
        first = _tick(instance, path)
        assert [r.tags["quality/alert_state"] for r in first.run_requests] == ["opened"]
        incident = states[0][2]
        assert json.loads(first.cursor)["ongoing"] == {incident: str(START + timedelta(days=shift + 5))}
        _refresh(path, range(shift + 6, shift + 12))
        going = _tick(instance, path, first.cursor)
        assert going.run_requests == []  # still going: no new alert, the cursor follows it
        assert json.loads(going.cursor)["ongoing"] == {incident: str(START + timedelta(days=shift + 11))}
        _refresh(path, range(shift + 12, DAYS))
        closed = _tick(instance, path, going.cursor)
    assert [r.tags["quality/alert_state"] for r in closed.run_requests] == ["resolved"]
    assert json.loads(closed.cursor)["ongoing"] == {}
    body = closed.run_requests[0].run_config["ops"]["send_quality_alert"]["config"]
    assert body["closed_as"] == "adapted" and body["incident_id"] == states[0][2]
    assert body["incident_days"] == (states[-1][0] - states[0][0]).days


def test_region_wide_drop_is_one_alert(tmp_path: Path) -> None:
    holiday = 90  # every BR key drops to a quarter, one day
    path = tmp_path / "q.duckdb"
    _build(path, lambda key, i, vol, err: (vol * 0.25 if key.endswith(":BR") and i == holiday else vol, err))
    _refresh(path, range(85, 95))
    rows = _rows(path, "SELECT DISTINCT incident_id, incident_scope FROM quality_anomaly_scores "
                       "WHERE incident_state = 'opened'")
    assert len(rows) == 1 and rows[0][1] == "region"
    with dg.instance_for_test() as instance:
        result = _tick(instance, path)
    configs = [r.run_config["ops"]["send_quality_alert"]["config"] for r in result.run_requests]
    assert [c["state"] for c in configs] == ["opened", "resolved"]
    opened = configs[0]
    assert opened["partition_key"] == "*:*:BR" and len(opened["keys"]) == 6 and opened["direction"] == "drop"
    assert opened["value"] < 0.4 * opened["baseline"]
    assert configs[1]["closed_as"] == "recovered"


def test_one_key_of_a_region_is_not_a_region_incident(tmp_path: Path) -> None:
    path = tmp_path / "q.duckdb"
    _build(path, lambda key, i, vol, err: (vol * 0.25 if key in ("amazon:toys:BR", "shopee:toys:BR") and i == 90
                                           else vol, err))
    _refresh(path, range(90, 91))
    assert sorted(_rows(path, "SELECT partition_key, incident_scope FROM quality_anomaly_scores "
                              "WHERE incident_state = 'opened'")) == [("amazon:toys:BR", "key"), ("shopee:toys:BR", "key")]


@pytest.mark.parametrize("partial_column", [False, True])
def test_partial_day_is_never_judged(tmp_path: Path, partial_column: bool) -> None:
    today = 100
    day = START + timedelta(days=today)
    path = tmp_path / "q.duckdb"
    # At 06:00 UTC only a quarter of the volume has arrived and half the keys have no job yet.
    _build(path, lambda key, i, vol, err: ((None if KEYS.index(key) % 2 else vol * 0.25) if i == today else vol, err),
           partial_column=partial_column)
    morning = datetime(day.year, day.month, day.day, 6, tzinfo=UTC)
    with connect(path) as con:
        if partial_column:
            con.execute("UPDATE marketplace_quality_daily SET is_partial = true WHERE day = $d", {"d": day})
        found = anomalies.refresh_day(con, day, now=AFTER_ALL if partial_column else morning)
    statuses = _rows(path, f"SELECT status, count(*), count(score), count(incident_id) FROM quality_anomaly_scores "
                           f"WHERE day = '{day}' GROUP BY ALL")
    assert found == 0 and statuses == [("partial_day", 12, 0, 0)]  # 6 keys x 2 metrics, no missing-key drops
    if not partial_column:  # once the day has ended, the same numbers are judged: drops everywhere
        with connect(path) as con:
            assert anomalies.refresh_day(con, day, now=AFTER_ALL) > 0


def test_partial_days_do_not_train(tmp_path: Path) -> None:
    path = tmp_path / "q.duckdb"
    # Past Mondays were left partial (a quarter of their volume): they must not lower the baseline.
    _build(path, lambda key, i, vol, err: (vol * 0.25 if i % 7 == 0 and i < 98 else vol, err), partial_column=True)
    with connect(path) as con:
        con.execute("UPDATE marketplace_quality_daily SET is_partial = true "
                    "WHERE dayofweek(day) = 1 AND day < $d", {"d": START + timedelta(days=98)})
        con.execute("UPDATE marketplace_quality_daily SET is_partial = false WHERE day >= $d",
                    {"d": START + timedelta(days=98)})
    _refresh(path, range(105, 106))  # a Monday; every earlier Monday in its window is partial
    rows = _rows(path, "SELECT DISTINCT status FROM quality_anomaly_scores")
    assert rows == [("not_enough_history",)]


def test_baseline_never_below_zero() -> None:
    # A feed dying fast: a line through these Mondays would predict far below zero.
    monday = START + timedelta(days=70)
    hist = {monday - timedelta(days=7 * k): 40_000.0 - 4_000 * (10 - k) for k in range(1, 11)}
    hist |= {monday - timedelta(days=d): 1000.0 for d in range(1, 71) if d % 7}
    j = judge(hist, monday, 0.0, DEFAULT_RULES[1])
    assert j.baseline is not None and j.baseline >= 0


def test_alert_names_the_job_carrying_the_days_errors(tmp_path: Path) -> None:
    spike = 95
    path = tmp_path / "q.duckdb"
    _build(path, lambda key, i, vol, err: (vol, 0.2 if key == "meli:books:US" and i == spike else err))
    day = START + timedelta(days=spike)
    with connect(path) as con:
        con.executemany("INSERT INTO job_runs VALUES (?, ?, ?, ?, ?)", [
            ("job-big", "meli:books:US", day, "completed", 700), ("job-a", "meli:books:US", day, "completed", 200),
            ("job-b", "meli:books:US", day, "failed", 100), ("job-x", "amazon:toys:US", day, "completed", 50),
            ("job-y", "amazon:toys:US", day, "completed", 50)])
    _refresh(path, range(spike, spike + 1))
    assert _rows(path, "SELECT partition_key, top_error_job_id, top_error_job_share FROM quality_anomaly_scores "
                       "WHERE top_error_job_id IS NOT NULL AND metric = 'error_rate'") == [
        ("meli:books:US", "job-big", 0.7)]  # amazon:toys:US: two jobs at 50 %, none carries it
    with dg.instance_for_test() as instance:
        result = _tick(instance, path)
    body = result.run_requests[0].run_config["ops"]["send_quality_alert"]["config"]
    assert body["top_error_job_id"] == "job-big" and body["top_error_job_share"] == 0.7
    from jobs_pipeline.warehouse.alerts import AnomalyAlert
    assert "job job-big carries 70% of the day's errors" in AnomalyAlert(**body).summary


def test_asset_on_todays_partition_judges_nothing(tmp_path: Path) -> None:
    """The Dagster asset on today's partition (the clock says the day has not ended): no anomaly,
    even though today's volume is a quarter of a day and half the keys have no job yet."""
    from jobs_pipeline.defs.quality.anomalies import quality_anomalies

    today = datetime.now(UTC).date()
    path = tmp_path / "q.duckdb"
    last = DAYS - 1
    _build(path, lambda key, i, vol, err: ((None if KEYS.index(key) % 2 else vol * 0.25) if i == last else vol, err))
    with connect(path) as con:  # move the history so that its last day is today
        con.execute("UPDATE marketplace_quality_daily SET day = day + $shift",
                    {"shift": (today - (START + timedelta(days=last))).days})
    warehouse = DuckDBWarehouseResource(path=str(path), lake_dir=str(path.parent / "lake"))
    with dg.instance_for_test() as instance:
        result = dg.materialize([quality_anomalies], partition_key=today.isoformat(),
                                resources={"warehouse": warehouse}, instance=instance)
    meta = result.asset_materializations_for_node("quality_anomalies")[0].metadata
    assert meta["partial_day"].value is True and meta["anomalies"].value == 0 and meta["judged"].value == 12
    assert _rows(path, "SELECT DISTINCT status FROM quality_anomaly_scores") == [("partial_day",)]


def test_a_partition_range_of_anomalies_is_one_run_equal_to_day_by_day(tmp_path: Path) -> None:
    """A backfill of quality_anomalies is one run (single-run policy) writing what day-by-day
    refreshes write (ids, statuses, incidents), whatever the order of the days."""
    from jobs_pipeline.defs.quality.anomalies import quality_anomalies

    path = tmp_path / "q.duckdb"
    _build(path, lambda key, i, vol, err: (vol * 2.2 if key == "amazon:toys:BR" and i >= 80 else vol, err))
    first, last = START + timedelta(days=75), START + timedelta(days=95)
    cols = "anomaly_id, day, status, round(score, 9), incident_id, incident_state"
    with connect(path) as con:
        for i in reversed(range(75, 96)):  # day by day, newest first
            anomalies.refresh_day(con, START + timedelta(days=i))
        expected = con.execute(f"SELECT {cols} FROM quality_anomaly_scores ORDER BY ALL").fetchall()
        con.execute("DELETE FROM quality_anomaly_scores")
    warehouse = DuckDBWarehouseResource(path=str(path), lake_dir=str(path.parent / "lake"))
    tags = {"dagster/asset_partition_range_start": first.isoformat(),
            "dagster/asset_partition_range_end": last.isoformat()}
    with dg.instance_for_test() as instance:
        result = dg.materialize([quality_anomalies], tags=tags, resources={"warehouse": warehouse}, instance=instance)
        assert len(instance.get_runs()) == 1
    meta = result.asset_materializations_for_node("quality_anomalies")[0].metadata
    assert meta["days"].value == 21 and meta["incidents_opened"].value == 1
    assert _rows(path, f"SELECT {cols} FROM quality_anomaly_scores ORDER BY ALL") == expected
