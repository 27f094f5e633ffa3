"""quality_alert_sensor: one alert per incident opened and one per incident resolved (a real
local webhook server), never twice across restarts and recomputed days, the quality.anomaly
event, and the sink selection."""

import json
import logging
from pathlib import Path

import dagster as dg
import pytest
from pytest_httpserver import HTTPServer

from jobs_pipeline.defs.quality import alerts as alerts_defs
from jobs_pipeline.defs.quality.alerts import database_version, quality_alert_job, quality_alert_sensor
from jobs_pipeline.defs.resources.alerts import LogAlertSinkResource, WebhookAlertSinkResource, alert_sink_resource
from jobs_pipeline.defs.resources.warehouse import DuckDBWarehouseResource
from jobs_pipeline.settings import load_settings
from jobs_pipeline.warehouse import anomalies
from jobs_pipeline.warehouse.connection import connect
from jobs_pipeline_tests.warehouse.history import History

HOOK = "/hooks/quality"


@pytest.fixture(autouse=True)
def no_settling(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test databases were just written; production waits for writers to be quiet."""
    monkeypatch.setattr(alerts_defs, "SETTLE_SECONDS", 0.0)


def _published(path: Path) -> DuckDBWarehouseResource:
    """The resource, after the writer published its changes (as every writing asset does)."""
    warehouse = DuckDBWarehouseResource(path=str(path), lake_dir=str(path.parent / "lake"))
    written = database_version(path)
    if written is not None and (database_version(warehouse.snapshot_file()) or 0) < written:
        with connect(path) as con:
            warehouse.publish(con)
    return warehouse


def _tick(instance, path: Path, cursor: str | None = None) -> dg.SensorResult:
    warehouse = _published(path)
    context = dg.build_sensor_context(instance=instance, cursor=cursor, resources={"warehouse": warehouse})
    result = quality_alert_sensor(context)
    if isinstance(result, dg.SkipReason):  # nothing to do this tick
        return dg.SensorResult(run_requests=[], cursor=cursor)
    return result


def _run_all(result: dg.SensorResult, instance, sink) -> None:
    for request in result.run_requests:
        run = quality_alert_job.execute_in_process(run_config=request.run_config, resources={"alert_sink": sink},
                                                   instance=instance, tags=request.tags)
        assert run.success


def test_one_alert_per_anomaly_across_restarts(db_copy: Path, history: History, httpserver: HTTPServer,
                                               caplog: pytest.LogCaptureFixture) -> None:
    httpserver.expect_request(HOOK, method="POST").respond_with_json({"ok": True})
    sink = WebhookAlertSinkResource(url=httpserver.url_for(HOOK))
    caplog.set_level(logging.INFO, logger="jobs_pipeline")
    with dg.instance_for_test() as instance:
        first = _tick(instance, db_copy)
        # each injected one-day anomaly opens an incident and recovers the next day
        states = [r.tags["quality/alert_state"] for r in first.run_requests]
        assert sorted(states) == ["opened"] * len(history.injected) + ["resolved"] * 3
        assert len({r.run_key for r in first.run_requests}) == 6
        _run_all(first, instance, sink)

        # The daemon restarts: a new evaluation with the cursor it had stored.
        assert _tick(instance, db_copy, first.cursor).run_requests == []

        # The anomaly day is recomputed: same anomaly ids, still nothing new.
        day = max(d for d, *_ in history.injected)
        with connect(db_copy) as con:
            assert anomalies.refresh_day(con, day) >= 1
        again = _tick(instance, db_copy, first.cursor)
        assert again.run_requests == []

        # A genuinely new anomaly (a feed's volume collapses on the last day) gives one more alert.
        last = history.days[-1]
        with connect(db_copy) as con:
            con.execute("UPDATE marketplace_quality_daily SET records_total = 10 WHERE day = $d "
                        "AND partition_key = 'shopee:fashion:BR'", {"d": last})
            anomalies.refresh_day(con, last)
        new = _tick(instance, db_copy, again.cursor)
        assert [r.tags["quality/partition_key"] for r in new.run_requests] == ["shopee:fashion:BR"]
        _run_all(new, instance, sink)
        assert _tick(instance, db_copy, new.cursor).run_requests == []

    bodies = [json.loads(req.get_data()) for req, _ in httpserver.log]
    assert len(bodies) == 7
    ids = [b["alert_id"] for b in bodies]
    assert len(set(ids)) == 7
    assert [req.headers["Idempotency-Key"] for req, _ in httpserver.log] == ids
    spike = next(b for b in bodies if b["metric"] == "error_rate")
    assert spike["type"] == "quality.anomaly" and spike["direction"] == "spike"
    assert spike["value"] > spike["baseline"] and spike["score"] >= spike["threshold"] == 3.0
    assert spike["training_points"] >= 7 and "error_rate spike" in spike["summary"]
    resolved = [b for b in bodies if b["state"] == "resolved"]
    assert len(resolved) == 3 and all(b["closed_as"] == "recovered" and b["incident_days"] == 1 for b in resolved)
    with connect(db_copy, read_only=True) as con:
        known = {r[0] for r in con.execute("SELECT anomaly_id FROM quality_anomalies").fetchall()}
    assert {b["alert_id"] for b in bodies if b["state"] == "opened"} == known
    assert {b["incident_id"] for b in resolved} < known

    events = [json.loads(r.getMessage()) for r in caplog.records
              if r.name == "jobs_pipeline.events" and '"quality.anomaly"' in r.getMessage()]
    assert sorted(e["id"] for e in events) == sorted(ids)
    assert all(e["data"]["alert_id"] == e["id"] for e in events)
    assert sum(1 for r in caplog.records if r.name == "jobs_pipeline.warehouse.alerts") == 7  # logged always


def test_webhook_failure_fails_the_run(db_copy: Path, httpserver: HTTPServer) -> None:
    httpserver.expect_request(HOOK, method="POST").respond_with_data("down", status=503)
    sink = WebhookAlertSinkResource(url=httpserver.url_for(HOOK))
    with dg.instance_for_test() as instance:
        request = _tick(instance, db_copy).run_requests[0]
        run = quality_alert_job.execute_in_process(run_config=request.run_config, resources={"alert_sink": sink},
                                                   instance=instance, raise_on_error=False)
    assert not run.success and len(httpserver.log) == 1


def _raw_tick(instance, path: Path, cursor: str | None = None):
    warehouse = _published(path)
    return quality_alert_sensor(dg.build_sensor_context(instance=instance, cursor=cursor,
                                                        resources={"warehouse": warehouse}))


def test_sensor_skips_without_database_or_marts(tmp_path: Path) -> None:
    with dg.instance_for_test() as instance:
        missing = _raw_tick(instance, tmp_path / "none.duckdb")
        with connect(tmp_path / "empty.duckdb") as con:
            con.execute("CREATE TABLE t (x INT)")
        no_marts = _raw_tick(instance, tmp_path / "empty.duckdb")
    assert isinstance(missing, dg.SkipReason) and "no quality database" in missing.skip_message
    assert isinstance(no_marts, dg.SkipReason) and "CatalogException" in no_marts.skip_message


def test_sensor_waits_for_writers_and_skips_an_unchanged_file(db_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with dg.instance_for_test() as instance:
        monkeypatch.setattr(alerts_defs, "SETTLE_SECONDS", 3600.0)
        settling = _raw_tick(instance, db_copy)
        monkeypatch.setattr(alerts_defs, "SETTLE_SECONDS", 0.0)
        first = _raw_tick(instance, db_copy)
        unchanged = _raw_tick(instance, db_copy, first.cursor)
    assert isinstance(settling, dg.SkipReason) and "waiting" in settling.skip_message
    assert len(first.run_requests) == 6
    assert isinstance(unchanged, dg.SkipReason) and "unchanged" in unchanged.skip_message


def test_sink_selection(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(alert_sink_resource(load_settings()), LogAlertSinkResource)
    monkeypatch.setenv("ALERT_WEBHOOK_URL", "http://127.0.0.1:9/hook")
    chosen = alert_sink_resource(load_settings())
    assert isinstance(chosen, WebhookAlertSinkResource)
    assert isinstance(chosen.url, dg.EnvVar)  # a secret: resolved at launch, hidden in the UI
