"""The BI marts as daily-partitioned Dagster assets, their checks (and the anomalies'), the job and schedule.

Thin wrappers over :mod:`jobs_pipeline.warehouse`. A partition is one UTC day; materialising it
rewrites that day only (and its Parquet object with an S3 lake), then publishes the read snapshot. Today's partitions follow
``job_runs`` (:mod:`.automation`); ``marts_daily`` finalises yesterday at 00:45 UTC, after
``quality_tables_daily`` (00:15). Every mart must be fresh by 03:00 UTC (freshness policy).
"""

from datetime import timedelta

import dagster as dg

from jobs_pipeline.defs.quality import tables
from jobs_pipeline.defs.quality.anomalies import AnomalyConfig, quality_anomalies  # noqa: F401 (re-exported)
from jobs_pipeline.defs.quality.automation import EAGER
from jobs_pipeline.defs.quality.dashboard import dashboard_daily, dashboard_job, quality_dashboard  # noqa: F401
from jobs_pipeline.defs.quality.partitions import DAILY, FRESHNESS, GROUP, day_of as _day, publish_day as _publish
from jobs_pipeline.defs.quality.tables import DUCKDB_POOL, job_runs
from jobs_pipeline.defs.resources.warehouse import DuckDBWarehouseResource
from jobs_pipeline.warehouse import marts
from jobs_pipeline.warehouse.connection import scalar
from jobs_pipeline.warehouse.mart_checks import check_day
from jobs_pipeline.warehouse.tables import FINISHED_RUNS


@dg.asset(group_name=GROUP, pool=DUCKDB_POOL, kinds={"duckdb"}, deps=[job_runs], partitions_def=DAILY,
          freshness_policy=FRESHNESS, automation_condition=EAGER,
          description="Jobs, records, error_rate and warning_rate by marketplace, category, region and UTC day.")
def marketplace_quality_daily(context: dg.AssetExecutionContext,
                              warehouse: DuckDBWarehouseResource) -> dg.MaterializeResult:
    day = _day(context)
    with warehouse.connect() as con:
        rows = marts.refresh_day(con, marts.MARKETPLACE_QUALITY_DAILY, day)
        jobs, failed, total, errors = con.execute(
            "SELECT coalesce(sum(jobs), 0), coalesce(sum(jobs_failed), 0), coalesce(sum(records_total), 0), "
            "coalesce(sum(records_error), 0) FROM marketplace_quality_daily WHERE day = $day", {"day": day},
        ).fetchall()[0]
        _publish(warehouse, con, "marketplace_quality_daily", day)
    return dg.MaterializeResult(metadata={
        "dagster/row_count": rows, "jobs": int(jobs), "jobs_failed": int(failed),
        "records_total": int(total), "overall_error_rate": float(errors / total) if total else 0.0,
    })


@dg.asset(group_name=GROUP, pool=DUCKDB_POOL, kinds={"duckdb"}, deps=[job_runs], partitions_def=DAILY,
          freshness_policy=FRESHNESS, automation_condition=EAGER,
          description="Fields and rules failing most per marketplace and ruleset version, share and 7-day trend.")
def field_error_hotspots(context: dg.AssetExecutionContext,
                         warehouse: DuckDBWarehouseResource) -> dg.MaterializeResult:
    day = _day(context)
    with warehouse.connect() as con:
        rows = marts.refresh_day(con, marts.FIELD_ERROR_HOTSPOTS, day)
        field_errors = scalar(con, "SELECT coalesce(sum(errors), 0) FROM field_error_hotspots "
                                   "WHERE day = $day AND kind = 'field'", {"day": day})
        top = con.execute("SELECT marketplace, name, errors, round(share, 3) FROM field_error_hotspots "
                          "WHERE day = $day AND kind = 'field' ORDER BY errors DESC LIMIT 10", {"day": day}).fetchall()
        _publish(warehouse, con, "field_error_hotspots", day)
    table = "| marketplace | field | errors | share |\n|---|---|---|---|\n" + "\n".join(
        "| " + " | ".join(str(v) for v in row) + " |" for row in top)
    return dg.MaterializeResult(metadata={
        "dagster/row_count": rows, "field_errors": int(field_errors), "top_fields": dg.MetadataValue.md(table),
    })


@dg.asset(group_name=GROUP, pool=DUCKDB_POOL, kinds={"duckdb"}, deps=[job_runs], partitions_def=DAILY,
          freshness_policy=FRESHNESS, automation_condition=EAGER,
          description="p50/p95/p99 processing time and latency per region (and marketplace), busiest hour.")
def region_latency_daily(context: dg.AssetExecutionContext,
                         warehouse: DuckDBWarehouseResource) -> dg.MaterializeResult:
    day = _day(context)
    with warehouse.connect() as con:
        rows = marts.refresh_day(con, marts.REGION_LATENCY_DAILY, day)
        p95 = scalar(con, f"SELECT quantile_cont(processing_time_ms, 0.95) FROM ({FINISHED_RUNS}) "
                          "WHERE day = $day", {"day": day})
        l95 = scalar(con, f"SELECT quantile_cont(latency_ms, 0.95) FROM ({FINISHED_RUNS}) "
                          "WHERE day = $day", {"day": day})
        _publish(warehouse, con, "region_latency_daily", day)
    return dg.MaterializeResult(metadata={
        "dagster/row_count": rows,
        "p95_processing_time_ms": float(p95 or 0.0), "p95_latency_ms": float(l95 or 0.0),
    })


MART_TABLES = {
    marketplace_quality_daily: "marketplace_quality_daily",
    field_error_hotspots: "field_error_hotspots",
    region_latency_daily: "region_latency_daily",
    quality_anomalies: "quality_anomaly_scores",
}

_CHECKS = {
    "rates_in_range": ("rows_out_of_range", "Rates (and shares) within [0, 1]; percentiles ordered."),
    "reconciles_with_job_runs": ("reconcile_difference", "Totals equal those of job_runs for the day."),
    "unique_keys": ("duplicate_keys", "No key appears twice in the day."),
    "not_empty_when_jobs_ran": ("empty_although_jobs_ran", "Rows exist when finished jobs ended that day."),
}


def _build_check(asset: dg.AssetsDefinition, table: str, name: str, figure: str, description: str):
    # In the writer pool too: a read-only open fails while another process writes the file.
    @dg.asset_check(asset=asset, name=name, partitions_def=DAILY, description=description, pool=DUCKDB_POOL)
    def _check(context: dg.AssetCheckExecutionContext, warehouse: DuckDBWarehouseResource) -> dg.AssetCheckResult:
        with warehouse.connect(read_only=True) as con:
            figures = check_day(con, table, _day(context))
        return dg.AssetCheckResult(passed=figures[figure] == 0, metadata=figures)

    return _check


mart_checks = [_build_check(asset, table, name, figure, desc)
               for asset, table in MART_TABLES.items() for name, (figure, desc) in _CHECKS.items()]


marts_job = dg.define_asset_job(
    "marts_job", selection=[marketplace_quality_daily, field_error_hotspots, region_latency_daily,
                            quality_anomalies],
    description="Refresh one UTC day of the BI marts.",
)


@dg.schedule(job=marts_job, name="marts_daily", cron_schedule="45 0 * * *", execution_timezone="UTC",
             default_status=dg.DefaultScheduleStatus.RUNNING,
             description="Every day at 00:45 UTC: yesterday's partition of every mart, now complete.")
def marts_daily(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    yesterday = (context.scheduled_execution_time - timedelta(days=1)).strftime("%Y-%m-%d")
    return dg.RunRequest(run_key=f"marts:{yesterday}", partition_key=yesterday)


quality_automation_sensor = dg.AutomationConditionSensorDefinition(
    "quality_automation_sensor", target=dg.AssetSelection.groups(tables.GROUP, GROUP),
    default_status=dg.DefaultSensorStatus.RUNNING, minimum_interval_seconds=60,
    description="Refresh the quality tables, marts and dashboard as their automation conditions ask.",
)
