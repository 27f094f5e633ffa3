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
