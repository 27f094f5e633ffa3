"""The marts as Dagster assets: daily partitions on a real instance, checks, metadata,
incremental refresh (one partition touches one day), the dashboard asset, definitions."""

from datetime import date
from pathlib import Path

import dagster as dg
import pytest

from jobs_pipeline.defs.quality import marts as mart_defs
from jobs_pipeline.defs.resources.warehouse import DuckDBWarehouseResource
from jobs_pipeline.warehouse.connection import connect
from jobs_pipeline.warehouse.tables import build_job_runs
from jobs_pipeline_tests.warehouse.history import History, load_history

MARTS = [mart_defs.marketplace_quality_daily, mart_defs.field_error_hotspots, mart_defs.region_latency_daily]


@pytest.fixture
def events_only_db(tmp_path: Path, history: History) -> Path:
    path = tmp_path / "quality.duckdb"
    with connect(path) as con:
        load_history(con, history)
        build_job_runs(con)
    return path


def _resources(path: Path) -> dict:
    return {"warehouse": DuckDBWarehouseResource(path=str(path), lake_dir=str(path.parent / "lake"))}


def _materialize(assets, path: Path, day: date, instance, checks: bool = True) -> dg.ExecuteInProcessResult:
    return dg.materialize([*assets, *(mart_defs.mart_checks if checks else [])], selection=assets,
                          partition_key=day.isoformat(),
                          resources=_resources(path), instance=instance)


def test_partitions_are_daily_and_reach_the_history() -> None:
    assert isinstance(mart_defs.DAILY, dg.DailyPartitionsDefinition)
    assert mart_defs.DAILY.has_partition_key("2026-03-02")
    for asset in [*MARTS, mart_defs.quality_anomalies]:
        assert asset.partitions_def == mart_defs.DAILY
        spec = next(iter(asset.specs))
        assert spec.freshness_policy == mart_defs.FRESHNESS


def test_materialize_one_day_touches_only_that_day(events_only_db: Path, history: History) -> None:
    first, second = history.days[5], history.days[6]
    with dg.instance_for_test() as instance:
        r1 = _materialize(MARTS, events_only_db, first, instance, checks=False)
        assert r1.success
        with connect(events_only_db, read_only=True) as con:
            stamp = con.execute("SELECT day, max(refreshed_at) FROM marketplace_quality_daily GROUP BY day").fetchall()
        r2 = _materialize(MARTS, events_only_db, second, instance, checks=False)
        assert r2.success
        r3 = _materialize(MARTS, events_only_db, second, instance)  # re-run: same rows, not doubled
        assert r3.success
        with connect(events_only_db, read_only=True) as con:
            days = dict(con.execute("SELECT day, count(*) FROM marketplace_quality_daily GROUP BY day").fetchall())
            stamp_after = dict(con.execute(
                "SELECT day, max(refreshed_at) FROM marketplace_quality_daily GROUP BY day").fetchall())
        assert days == {first: 12, second: 12}
        assert stamp_after[first] == dict(stamp)[first]  # the first day was not rewritten

        evaluations = [e for e in r3.get_asset_check_evaluations()]
        assert len(evaluations) == 3 * 4 and all(e.passed for e in evaluations)
        meta = r3.asset_materializations_for_node("marketplace_quality_daily")[0].metadata
        assert meta["jobs"].value == days[second] * 4 + meta["jobs_failed"].value
        assert 0 < meta["overall_error_rate"].value < 1
        lat = r3.asset_materializations_for_node("region_latency_daily")[0].metadata
        assert lat["p95_processing_time_ms"].value > 0
        mats = instance.get_latest_materialization_event(dg.AssetKey("marketplace_quality_daily"))
        assert mats.dagster_event.partition == second.isoformat()


def test_a_failing_check_is_reported(events_only_db: Path, history: History) -> None:
    day = history.days[3]
    with connect(events_only_db) as con:  # a corrupt job run: more errors than records
        con.execute("UPDATE job_runs SET records_error = 10 * records_total WHERE job_id = (SELECT job_id FROM "
                    "job_runs WHERE status = 'completed' AND day = $d LIMIT 1)", {"d": day})
    with dg.instance_for_test() as instance:
        result = dg.materialize([mart_defs.marketplace_quality_daily, *mart_defs.mart_checks],
                                selection=[mart_defs.marketplace_quality_daily], partition_key=day.isoformat(),
                                resources=_resources(events_only_db), instance=instance, raise_on_error=False)
    by_name = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert not by_name["rates_in_range"].passed
    assert by_name["rates_in_range"].metadata["rows_out_of_range"].value == 1
    assert by_name["unique_keys"].passed and by_name["reconciles_with_job_runs"].passed


def test_anomaly_asset_finds_the_injected_spike(db_copy: Path, history: History) -> None:
    day, key, metric, _ = next(i for i in history.injected if i[2] == "error_rate")
    with dg.instance_for_test() as instance:
        result = _materialize([mart_defs.quality_anomalies], db_copy, day, instance)
        assert result.success
        meta = result.asset_materializations_for_node("quality_anomalies")[0].metadata
        assert meta["anomalies"].value == 1 and meta["judged"].value == 24 and meta["threshold"].value == 3.0
        assert all(e.passed for e in result.get_asset_check_evaluations())
    with connect(db_copy, read_only=True) as con:
        assert con.execute("SELECT partition_key, metric FROM quality_anomalies WHERE day = $d",
                           {"d": day}).fetchall() == [(key, metric)]


def test_dashboard_asset_writes_the_page_and_links_it(db_copy: Path, tmp_path: Path) -> None:
    target = tmp_path / "out" / "dash.html"
    resources = {"warehouse": DuckDBWarehouseResource(path=str(db_copy), lake_dir=str(tmp_path / "lake"),
                                                      dashboard_path=str(target))}
    with connect(db_copy) as con:  # the seeded database was written without the assets: publish it
        resources["warehouse"].publish(con)
    with dg.instance_for_test() as instance:
        result = dg.materialize([mart_defs.quality_dashboard], resources=resources, instance=instance)
    assert result.success
    meta = result.asset_materializations_for_node("quality_dashboard")[0].metadata
    assert meta["dashboard"].value == target.as_uri() and meta["open_anomalies"].value == 3
    html = target.read_text()
    assert "<script src" not in html and "http://" not in html.replace("http://www.w3.org/2000/svg", "")


def test_definitions_load_marts_schedule_and_sensor() -> None:
    from jobs_pipeline.definitions import defs

    d = defs()
    assert d.resolve_job_def("marts_job").partitions_def == mart_defs.DAILY
    assert d.get_schedule_def("marts_daily").cron_schedule == "45 0 * * *"
    assert d.get_sensor_def("quality_alert_sensor").job_name == "quality_alert_job"
    assert d.resolve_assets_def("quality_dashboard") is not None


def test_marts_daily_schedule_targets_yesterday_and_today_is_a_partition():
    from datetime import UTC, datetime

    from jobs_pipeline.defs.quality.marts import DAILY, marts_daily

    ctx = dg.build_schedule_context(scheduled_execution_time=datetime(2026, 3, 2, 0, 45, tzinfo=UTC))
    request = marts_daily(ctx)
    assert request.partition_key == "2026-03-01"
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    assert DAILY.has_partition_key(today)


def test_warehouse_resource_carries_the_sensitivity_and_dashboard_path(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from jobs_pipeline.defs.resources.warehouse import warehouse_resource
    from jobs_pipeline.settings import load_settings

    monkeypatch.setenv("JOBS_PIPELINE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ANOMALY_SENSITIVITY", "4.5")
    monkeypatch.setenv("QUALITY_DASHBOARD_PATH", str(tmp_path / "dash.html"))
    local = warehouse_resource(load_settings(), from_env=False)
    assert local.anomaly_sensitivity == 4.5 and local.dashboard_file() == tmp_path / "dash.html"
    deployed = warehouse_resource(load_settings(), from_env=True)  # a set path resolves at launch
    assert isinstance(deployed.dashboard_path, dg.EnvVar) and deployed.anomaly_sensitivity == 4.5
    monkeypatch.delenv("QUALITY_DASHBOARD_PATH")
    default = warehouse_resource(load_settings(), from_env=True)
    assert default.dashboard_path == str(load_settings().dashboard_path)


def test_a_partition_range_is_one_run_equal_to_day_by_day(events_only_db: Path, seeded_db: Path,
                                                          history: History) -> None:
    """A backfill of 10 days is one run (single-run backfill policy): each mart writes the same
    rows as day-by-day refreshes, and each check judges the whole range, naming failing days."""
    first, last = history.days[20], history.days[29]
    tags = {"dagster/asset_partition_range_start": first.isoformat(),
            "dagster/asset_partition_range_end": last.isoformat()}
    for asset in MARTS:
        assert asset.backfill_policy == dg.BackfillPolicy.single_run()
    with connect(events_only_db) as con:  # one job on the 25th day made inconsistent
        con.execute("UPDATE job_runs SET records_error = 10 * records_total WHERE job_id = (SELECT job_id FROM "
                    "job_runs WHERE status = 'completed' AND day = $d LIMIT 1)", {"d": history.days[25]})
    with dg.instance_for_test() as instance:
        result = dg.materialize([*MARTS, *mart_defs.mart_checks], selection=MARTS, tags=tags,
                                resources=_resources(events_only_db), instance=instance, raise_on_error=False)
        assert len(instance.get_runs()) == 1
    by_name = {(e.asset_key.to_user_string(), e.check_name): e for e in result.get_asset_check_evaluations()}
    assert len(by_name) == 12
    bad = by_name[("marketplace_quality_daily", "rates_in_range")]
    assert not bad.passed and bad.metadata["failing_days"].value == history.days[25].isoformat()
    assert bad.metadata["days"].value == 10
    assert all(e.passed for k, e in by_name.items() if k != ("marketplace_quality_daily", "rates_in_range"))
    meta = result.asset_materializations_for_node("region_latency_daily")[0].metadata
    assert meta["days"].value == 10

    cols = {"marketplace_quality_daily": "day, partition_key, jobs, records_total, records_valid",
            "field_error_hotspots": "day, marketplace, ruleset, kind, name, errors, jobs_affected, share, rank, "
                                    "errors_prev_7d, trend_vs_prev_7d",
            "region_latency_daily": "day, region, marketplace, jobs, processing_p95_ms, peak_hour, "
                                    "peak_jobs_per_hour"}
    for table, select in cols.items():
        query = f"SELECT {select} FROM {table} WHERE day BETWEEN $a AND $b ORDER BY ALL"
        with connect(events_only_db, read_only=True) as con:
            got = con.execute(query, {"a": first, "b": last}).fetchall()
        with connect(seeded_db, read_only=True) as con:  # built one day at a time
            want = con.execute(query, {"a": first, "b": last}).fetchall()
        assert got == want and len(got) > 10, table
