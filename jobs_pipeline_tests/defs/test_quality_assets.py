"""The quality tables as Dagster assets: dg.materialize, checks and metadata."""

import dagster as dg
import pytest

from jobs_pipeline.defs.quality.tables import (
    job_events, job_events_unique_ids, job_runs, job_runs_consistent, marketplace_quality,
    marketplace_quality_rates_in_range,
)
from jobs_pipeline.domain.model import JobContext
from jobs_pipeline.jobs.service import JobService
from jobs_pipeline.queue.memory import InMemoryQueuePublisher
from jobs_pipeline.demo.samples import DEMO_FEEDS, write_sample
from jobs_pipeline.telemetry.lake import LakeTelemetryEmitter
from jobs_pipeline_tests.dagster_helpers import QUIET, resources_for

ASSETS = [job_events, job_runs, marketplace_quality, job_events_unique_ids, job_runs_consistent,
          marketplace_quality_rates_in_range]


def metadata_of(result, asset_name):
    [mat] = result.asset_materializations_for_node(asset_name)
    return {k: v.value for k, v in mat.metadata.items()}


def test_materialize_builds_tables_with_passing_checks_and_numeric_metadata(settings, instance):
    service = JobService(InMemoryQueuePublisher(), LakeTelemetryEmitter(settings.lake_dir))
    for spec in DEMO_FEEDS[:2]:
        path = write_sample(settings.data_dir / "in", spec)
        service.run(service.create_job(path, JobContext(marketplace=spec.marketplace, category=spec.category,
                                                        region=spec.region)))
    result = dg.materialize(ASSETS, instance=instance, resources=resources_for(settings), run_config=QUIET)
    assert result.success
    assert all(c.passed for c in result.get_asset_check_evaluations())
    assert len(result.get_asset_check_evaluations()) == 3
    events_md = metadata_of(result, "job_events")
    assert events_md["events_inserted"] == events_md["dagster/row_count"] > 0
    quality_md = metadata_of(result, "marketplace_quality")
    rows = sum(s.rows for s in DEMO_FEEDS[:2])
    errors = sum(s.expected_errors for s in DEMO_FEEDS[:2])
    assert quality_md["dagster/row_count"] == 2
    assert quality_md["overall_error_rate"] == pytest.approx(errors / rows)
    assert isinstance(quality_md["overall_error_rate"], float)

    again = dg.materialize(ASSETS, instance=instance, resources=resources_for(settings), run_config=QUIET)
    assert metadata_of(again, "job_events")["events_inserted"] == 0
    assert metadata_of(again, "marketplace_quality")["overall_error_rate"] == quality_md["overall_error_rate"]


def test_duckdb_writers_share_one_pool():
    for asset in (job_events, job_runs, marketplace_quality):
        assert asset.op.pool == "duckdb_writer"


def test_the_quality_graph_refreshes_itself_in_order(tmp_path):
    """job_events hourly -> job_runs, marketplace_quality; marts (by the changed-days sensor) -> the
    dashboard; anomalies follow a finished day's marketplace_quality_daily only."""
    from datetime import UTC, datetime, timedelta

    from jobs_pipeline.defs.quality import marts
    from jobs_pipeline.defs.resources.warehouse import DuckDBWarehouseResource

    defs = dg.Definitions(
        assets=[job_events, job_runs, marketplace_quality, marts.marketplace_quality_daily,
                marts.field_error_hotspots, marts.region_latency_daily, marts.quality_anomalies,
                marts.quality_dashboard],
        resources={"warehouse": DuckDBWarehouseResource(path=str(tmp_path / "q.duckdb"), lake_dir=str(tmp_path))},
    )
    today, yesterday = "2026-03-02", "2026-03-01"
    clock = [datetime(2026, 3, 2, 10, 30, tzinfo=UTC)]
    cursor = [None]

    def tick() -> dict[str, set]:
        clock[0] += timedelta(minutes=1)
        result = dg.evaluate_automation_conditions(defs, instance, evaluation_time=clock[0], cursor=cursor[0])
        cursor[0] = result.cursor
        return {r.key.to_user_string(): (set(r.true_subset.expensively_compute_partition_keys())
                                         if r.true_subset.is_partitioned else set())
                for r in result.results if r.true_subset.size}

    def materialized(*keys: str, partition: str | None = None) -> None:
        for key in keys:
            instance.report_runless_asset_event(dg.AssetMaterialization(key, partition=partition))

    with dg.instance_for_test() as instance:
        assert tick() == {} and tick() == {}  # nothing upstream yet
        materialized("job_events")
        assert tick() == {"job_runs": set(), "marketplace_quality": set()}
        materialized("job_runs", "marketplace_quality")
        # the marts' days are not automation conditions: job_runs_changed_days_sensor asks for
        # the days whose job_runs rows changed (test_late_events.py); no anomalies on a partial day
        assert tick() == {}
        marts_today = ("marketplace_quality_daily", "field_error_hotspots", "region_latency_daily")
        materialized(*marts_today, partition=today)
        assert tick() == {"quality_dashboard": set()}
        materialized("quality_dashboard")
        assert tick() == {}
        materialized("marketplace_quality_daily", partition=yesterday)  # e.g. marts_daily finalising
        assert tick() == {"quality_anomalies": {yesterday}, "quality_dashboard": set()}
        clock[0] = datetime(2026, 3, 2, 10, 59, 30, tzinfo=UTC)
        assert tick() == {"job_events": set(), "job_runs": set(), "marketplace_quality": set()}  # 11:00
