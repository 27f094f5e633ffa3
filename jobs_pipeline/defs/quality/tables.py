"""Quality tables in DuckDB: ``job_events`` -> ``job_runs`` -> ``marketplace_quality``.

Thin wrappers over :mod:`jobs_pipeline.warehouse`; writers share the ``duckdb_writer`` pool
(limit 1 in ``dagster.yaml``), and so do the checks reading the database itself. Each writer
publishes the read snapshot after its change (people read that); with an S3 lake the events'
changed days also go out as Parquet. Refreshed hourly and after each other (:mod:`.automation`).
``job_runs`` reports the UTC days whose finished rows changed (metadata ``changed_days``):
``job_runs_changed_days_sensor`` (:mod:`.late_days`) rebuilds those days of the marts.
"""

import dagster as dg

from jobs_pipeline.defs.quality.automation import EAGER
from jobs_pipeline.defs.quality.events import (  # noqa: F401 (re-exported)
    DUCKDB_POOL, GROUP, job_events, job_events_lake_backlog, job_events_unique_ids,
)
from jobs_pipeline.defs.resources.warehouse import DuckDBWarehouseResource
from jobs_pipeline.warehouse.connection import scalar
from jobs_pipeline.warehouse.tables import (
    build_marketplace_quality,
    inconsistent_job_runs,
    overall_error_rate,
    rates_out_of_range,
    refresh_job_runs,
)

#: Metadata key of ``job_runs`` materialisations: ISO dates of the days whose finished rows changed.
CHANGED_DAYS = "changed_days"


@dg.asset(group_name=GROUP, pool=DUCKDB_POOL, kinds={"duckdb"}, deps=[job_events], automation_condition=EAGER,
          description="One row per job: final status, attempts and metrics.")
def job_runs(context: dg.AssetExecutionContext, warehouse: DuckDBWarehouseResource) -> dg.MaterializeResult:
    with warehouse.connect() as con:
        built = refresh_job_runs(con)
        failed = scalar(con, "SELECT count(*) FROM job_runs WHERE status = 'failed'")
        warehouse.publish(con)
    days = [d.isoformat() for d in built.changed_days]
    context.log.info(f"job_runs: {len(days)} UTC day(s) changed" + (f" ({days[0]} .. {days[-1]})" if days else ""))
    return dg.MaterializeResult(metadata={
        "dagster/row_count": built.rows, "jobs_failed": failed,
        CHANGED_DAYS: dg.MetadataValue.json(days), "changed_days_count": len(days),
    })


@dg.asset(group_name=GROUP, pool=DUCKDB_POOL, kinds={"duckdb"}, deps=[job_runs], automation_condition=EAGER,
          description="Jobs, records, error_rate and warning_rate by marketplace, category and region.")
def marketplace_quality(warehouse: DuckDBWarehouseResource) -> dg.MaterializeResult:
    with warehouse.connect() as con:
        rows = build_marketplace_quality(con)
        rate = overall_error_rate(con)
        preview = con.execute(
            "SELECT marketplace, category, region, jobs, records_total, round(error_rate, 4) AS error_rate "
            "FROM marketplace_quality ORDER BY error_rate DESC LIMIT 20"
        ).fetchall()
        warehouse.publish(con)
    table = "| marketplace | category | region | jobs | records | error_rate |\n|---|---|---|---|---|---|\n" + "\n".join(
        "| " + " | ".join(str(v) for v in row) + " |" for row in preview
    )
    return dg.MaterializeResult(metadata={
        "dagster/row_count": rows,
        "overall_error_rate": rate,
        "preview": dg.MetadataValue.md(table),
    })


@dg.asset_check(asset=job_runs, pool=DUCKDB_POOL, description="One row per job and valid + error <= total.")
def job_runs_consistent(warehouse: DuckDBWarehouseResource) -> dg.AssetCheckResult:
    with warehouse.connect(read_only=True) as con:
        bad = inconsistent_job_runs(con)
    return dg.AssetCheckResult(passed=bad == 0, metadata={"inconsistent_rows": bad})


@dg.asset_check(asset=marketplace_quality, pool=DUCKDB_POOL, description="error_rate and warning_rate within [0, 1].")
def marketplace_quality_rates_in_range(warehouse: DuckDBWarehouseResource) -> dg.AssetCheckResult:
    with warehouse.connect(read_only=True) as con:
        bad = rates_out_of_range(con, "marketplace_quality")
    return dg.AssetCheckResult(passed=bad == 0, metadata={"rows_out_of_range": bad})


quality_tables_job = dg.define_asset_job(
    "quality_tables_job", selection=[job_events, job_runs, marketplace_quality],
    description="Ingest new lake events and rebuild the quality tables.",
)

quality_tables_daily = dg.ScheduleDefinition(
    name="quality_tables_daily", job=quality_tables_job, cron_schedule="15 0 * * *",
    execution_timezone="UTC", default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every day at 00:15 UTC: refresh the quality tables.",
)
