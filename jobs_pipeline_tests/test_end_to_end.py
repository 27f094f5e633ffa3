"""From files in the landing folder to correct numbers in marketplace_quality, through the
real sensor, real validate_feeds batch runs on a Dagster instance and the materialised assets."""

import dagster as dg
import pytest

from jobs_pipeline.defs.feeds.landing_sensor import landing_sensor
from jobs_pipeline.defs.quality.tables import job_events, job_runs, marketplace_quality
from jobs_pipeline.defs.feeds.validate_feeds import validate_feeds
from jobs_pipeline.demo.samples import DEMO_FEEDS, write_sample
from jobs_pipeline.warehouse.connection import connect
from jobs_pipeline_tests.dagster_helpers import QUIET, batch_feeds, resources_for


def run_sensor_and_requests(settings, instance, cursor=None):
    resources = resources_for(settings)
    ctx = dg.build_sensor_context(instance=instance, cursor=cursor, resources={"landing": resources["landing"]})
    result = landing_sensor(ctx)
    for request in result.run_requests:
        validate_feeds.execute_in_process(
            run_config={**request.run_config, **QUIET}, instance=instance, resources=resources,
            tags={**request.tags, "dagster/run_key": request.run_key}, raise_on_error=False,
        )
    dg.materialize([job_events, job_runs, marketplace_quality], instance=instance, resources=resources,
                   run_config=QUIET)
    return result


def test_landing_files_to_marketplace_quality(settings, instance):
    for spec in DEMO_FEEDS:
        write_sample(settings.landing_dir, spec)
    broken = settings.landing_dir / "amazon/electronics/US/broken.csv"
    broken.write_bytes(b"\x00\x01\x02binary")

    first = run_sensor_and_requests(settings, instance)
    assert len(batch_feeds(first.run_requests)) == len(DEMO_FEEDS) + 1  # every file launched, in batches
    second = run_sensor_and_requests(settings, instance, cursor=first.cursor)
    assert batch_feeds(second.run_requests) == []  # nothing ran twice

    with connect(settings.duckdb_path, read_only=True) as con:
        rows = con.execute(
            "SELECT marketplace, category, region, jobs, jobs_failed, records_total, records_error, error_rate "
            "FROM marketplace_quality"
        ).fetchall()
        statuses = dict(con.execute("SELECT status, count(*) FROM job_runs GROUP BY 1").fetchall())
    got = {(m, c, r): (jobs, failed, total, err, rate) for m, c, r, jobs, failed, total, err, rate in rows}
    for spec in DEMO_FEEDS:
        jobs, failed, total, err, rate = got[(spec.marketplace, spec.category, spec.region)]
        broken_here = (spec.marketplace, spec.category, spec.region) == ("amazon", "electronics", "US")
        assert (jobs, failed) == ((2, 1) if broken_here else (1, 0))
        assert (total, err) == (spec.rows, spec.expected_errors)
        assert rate == pytest.approx(spec.expected_errors / spec.rows)
    assert statuses == {"completed": len(DEMO_FEEDS), "failed": 1}
