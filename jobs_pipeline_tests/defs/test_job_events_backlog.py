"""``job_events`` reports the lake's backlog, and ``job_events_lake_backlog`` fails past
LAKE_BACKLOG_MAX_FILES: a backlog is never silent (real Dagster runs, a real DuckDB file)."""

import dagster as dg

from jobs_pipeline.defs.quality.events import job_events, job_events_lake_backlog
from jobs_pipeline.defs.resources.warehouse import DuckDBWarehouseResource, warehouse_resource
from jobs_pipeline.settings import Settings
from jobs_pipeline.telemetry.lake import LakeTelemetryEmitter
from jobs_pipeline_tests.dagster_helpers import QUIET
from jobs_pipeline_tests.telemetry.events_factory import job_events as events_of_job


def land_jobs(lake, first: int, count: int) -> None:
    """``count`` jobs, each from its own writer process (one lake file each)."""
    for i in range(first, first + count):
        emitter = LakeTelemetryEmitter(lake, fsync=False)
        for e in events_of_job(i, "backlog"):
            emitter.emit(e)
        emitter.close()


def check_of(result) -> dg.AssetCheckEvaluation:
    [evaluation] = [e for e in result.get_asset_check_evaluations() if e.check_name == "job_events_lake_backlog"]
    return evaluation


def test_backlog_is_metadata_and_the_check_fails_past_the_setting(tmp_path, instance):
    lake = tmp_path / "lake"
    warehouse = DuckDBWarehouseResource(path=str(tmp_path / "q.duckdb"), lake_dir=str(lake), lake_backlog_max_files=2)
    resources = {"warehouse": warehouse}
    land_jobs(lake, 0, 5)
    result = dg.materialize([job_events, job_events_lake_backlog], instance=instance, resources=resources,
                            run_config=QUIET)
    assert result.success
    [mat] = result.asset_materializations_for_node("job_events")
    metadata = {k: v.value for k, v in mat.metadata.items()}
    assert (metadata["files_ingested"], metadata["lake_pending_files"], metadata["lake_pending_bytes"]) == (5, 0, 0)
    assert check_of(result).passed

    land_jobs(lake, 5, 3)  # lands after the run: 3 files wait, the limit is 2
    only_check = dg.materialize([job_events, job_events_lake_backlog], instance=instance, resources=resources,
                                selection=dg.AssetSelection.checks(job_events_lake_backlog), run_config=QUIET,
                                raise_on_error=False)
    failed = check_of(only_check)
    assert not failed.passed and failed.severity == dg.AssetCheckSeverity.ERROR
    assert failed.metadata["lake_pending_files"].value == 3 and failed.metadata["max_files"].value == 2
    assert "LAKE_BACKLOG_MAX_FILES" in failed.description

    caught_up = dg.materialize([job_events, job_events_lake_backlog], instance=instance, resources=resources,
                               run_config=QUIET)
    assert check_of(caught_up).passed
    [mat] = caught_up.asset_materializations_for_node("job_events")
    assert mat.metadata["files_ingested"].value == 3 and mat.metadata["lake_pending_files"].value == 0


def test_the_setting_reaches_the_warehouse_resource(monkeypatch, tmp_path):
    monkeypatch.setenv("LAKE_BACKLOG_MAX_FILES", "7")
    monkeypatch.setenv("JOBS_PIPELINE_DATA_DIR", str(tmp_path))
    assert warehouse_resource(Settings(), from_env=False).lake_backlog_max_files == 7
    assert DuckDBWarehouseResource(path="q", lake_dir="l").lake_backlog_max_files == Settings.model_fields[
        "lake_backlog_max_files"].default
