"""``jobs-pipeline demo`` (``make demo``): the whole product on embedded defaults.

Writes seeded sample feeds (plus an unusable and a misplaced file) into the landing folder,
evaluates the real ``landing_sensor``, runs each file's ``validate_feed`` in process under the
sensor's name and the file's run key (so ``make dev`` never runs it again), materialises the
quality tables and marts with their checks and prints ``marketplace_quality``."""

import os
from pathlib import Path

import dagster as dg

from jobs_pipeline.demo.samples import DEMO_FEEDS, write_sample
from jobs_pipeline.settings import Settings

CURSOR_FILE = ".demo-landing-sensor.cursor"
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


def _ensure_dagster_home(project_root: Path) -> Path:
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(project_root / ".dagster_home")))
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    template = project_root / "dagster.yaml"
    if not config.exists() and template.exists():
        config.symlink_to(template)
    return home


def _write_inputs(settings: Settings) -> None:
    """Write the sample inputs once (a marker remembers it: an unusable file is moved to
    quarantine by its run, and must not be written again on the next demo)."""
    marker = settings.data_dir / ".demo-inputs-written"
    if marker.exists():
        return
    landing = settings.landing_dir
    for feed in DEMO_FEEDS:
        if not (landing / feed.relpath).exists():
            write_sample(landing, feed)
    broken = landing / "google_merchant" / "electronics" / "BR" / "broken-export.csv"
    if not broken.exists():
        broken.parent.mkdir(parents=True, exist_ok=True)
        broken.write_bytes(b"")  # an empty upload: the job fails with a clear reason
    misplaced = landing / "misplaced.csv"
    if not misplaced.exists():
        misplaced.write_text("id,title\n1,x\n", encoding="utf-8")  # wrong folder depth: reported
    marker.write_text("sample feeds written by jobs-pipeline demo\n", encoding="utf-8")


def _materialize_marts(instance: dg.DagsterInstance, resources: dict) -> str | None:
    """Today's partition of the BI marts, then the dashboard page; returns the page's path."""
    from datetime import UTC, datetime

    from jobs_pipeline.defs.quality import marts

    today = datetime.now(UTC).strftime("%Y-%m-%d")
    daily = [marts.marketplace_quality_daily, marts.field_error_hotspots, marts.region_latency_daily,
             marts.quality_anomalies, marts.quality_recommendations]
    result = dg.materialize([*daily, *marts.mart_checks, *marts.recommendation_checks], instance=instance,
                            resources=resources,
                            partition_key=today, run_config=QUIET)
    checks = result.get_asset_check_evaluations()
    page = dg.materialize([marts.quality_dashboard], instance=instance, resources=resources, run_config=QUIET)
    print(f"BI marts materialised for {today}; checks passed: {sum(c.passed for c in checks)}/{len(checks)}")
    [mat] = page.asset_materializations_for_node("quality_dashboard")
    path = mat.metadata.get("path")
    return str(path.value) if path is not None else None


def run_demo(project_root: Path | None = None) -> int:
    import warnings

    warnings.filterwarnings("ignore", category=dg.PreviewWarning)
    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    from jobs_pipeline.defs.feeds.batches import RUN_KEY_TAG, SENSOR_NAME_TAG, feeds_of
    from jobs_pipeline.defs.feeds.landing_sensor import SENSOR_NAME, landing_sensor
    from jobs_pipeline.defs.quality.tables import (
        job_events, job_events_lake_backlog, job_events_unique_ids, job_runs, job_runs_consistent, marketplace_quality,
        marketplace_quality_rates_in_range,
    )
    from jobs_pipeline.defs.resources.deployments import resources_for
    from jobs_pipeline.defs.resources.landing import LandingZoneResource
    from jobs_pipeline.defs.feeds.validate_feed import validate_feed
    from jobs_pipeline.domain.model import JobContext
    from jobs_pipeline.jobs.compose import load_checked_settings
    from jobs_pipeline.warehouse.connection import connect

    root = (project_root or Path.cwd()).resolve()
    _ensure_dagster_home(root)
    settings = load_checked_settings()
    _write_inputs(settings)
    resources = resources_for(settings.model_copy(update={"dagster_deployment": "local"}))  # the demo is local
    # Demo files were written a moment ago: don't wait for them to settle.
    landing = resources["landing"]
    resources["landing"] = LandingZoneResource(
        landing_dir=landing.landing_dir, quarantine_dir=landing.quarantine_dir, tier=landing.tier,
        max_files_per_tick=landing.max_files_per_tick, settle_seconds=0.0,
    )

    cursor_path = settings.data_dir / CURSOR_FILE
    with dg.DagsterInstance.get() as instance:
        context = dg.build_sensor_context(
            instance=instance,
            cursor=cursor_path.read_text() if cursor_path.exists() else None,
            resources={"landing": resources["landing"]},
        )
        result = landing_sensor(context)
        batches = result.run_requests or []
        feeds = [feed for batch in batches for feed in feeds_of(batch)]
        print(f"landing_sensor: {len(feeds)} new file(s) in {settings.landing_dir}")
        for feed in feeds:
            # tagged as the daemon's landing_sensor would tag this file's own run: it never runs again
            ctx = JobContext(marketplace=feed["marketplace"], category=feed["category"], region=feed["region"],
                             tier=feed["tier"])
            tags = {"marketplace": ctx.marketplace, "tier": ctx.tier.value, "partition_key": ctx.partition_key,
                    "source": "landing", SENSOR_NAME_TAG: SENSOR_NAME, RUN_KEY_TAG: feed["file_key"]}
            if instance.get_runs(filters=dg.RunsFilter(tags={RUN_KEY_TAG: feed["file_key"]}), limit=1):
                continue
            run = validate_feed.execute_in_process(
                run_config={"ops": {"describe_feed": {"config": feed}}, **QUIET}, instance=instance,
                resources=resources, tags=tags, raise_on_error=False,
            )
            status = "ok" if run.success else "FAILED (see job.failed event)"
            print(f"  validate_feed {Path(feed['path']).relative_to(settings.landing_dir)}: {status}")
        cursor_path.parent.mkdir(parents=True, exist_ok=True)
        cursor_path.write_text(result.cursor or "")

        materialized = dg.materialize(
            [job_events, job_runs, marketplace_quality, job_events_unique_ids, job_events_lake_backlog,
             job_runs_consistent,
             marketplace_quality_rates_in_range],
            instance=instance, resources=resources, run_config=QUIET,
        )
        checks = materialized.get_asset_check_evaluations()
        print(f"quality tables materialised; checks passed: {sum(c.passed for c in checks)}/{len(checks)}")
        dashboard = _materialize_marts(instance, resources)

    with connect(settings.duckdb_path, read_only=True) as con:
        print("\nmarketplace_quality:")
        con.sql(
            "SELECT marketplace, category, region, jobs, jobs_failed, records_total, records_error, "
            "round(error_rate, 4) AS error_rate, round(warning_rate, 4) AS warning_rate "
            "FROM marketplace_quality ORDER BY marketplace, category, region"
        ).show(max_width=200)
    print(f"DuckDB file: {settings.duckdb_path}  (the pipeline writes it)")
    print(f"Read-only snapshot: {resources['warehouse'].snapshot_file()}  (open this one from Metabase/Superset/duckdb CLI)")
    if dashboard:
        print(f"Dashboard (offline HTML): {dashboard}")
    print("Open the Dagster UI: make dev  ->  http://127.0.0.1:3000")
    return 0
