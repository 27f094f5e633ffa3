"""The BI marts as daily-partitioned Dagster assets, their checks, the dashboard and schedules.

Thin wrappers over :mod:`jobs_pipeline.warehouse`. A partition is one UTC day; materialising it
rewrites that day only (and its Parquet object with an S3 lake), then publishes the read snapshot. Today's partitions follow
``job_runs`` (:mod:`.automation`); ``marts_daily`` finalises yesterday at 00:45 UTC, after
``quality_tables_daily`` (00:15). Every mart must be fresh by 03:00 UTC (freshness policy).
"""

from datetime import date, timedelta

import dagster as dg

from jobs_pipeline.warehouse.detector import DetectorSettings
from jobs_pipeline.warehouse.dashboard import CHARTS, write_dashboard
from jobs_pipeline.defs.quality import tables
from jobs_pipeline.defs.quality.automation import AFTER_FINISHED_DAY, AFTER_MARTS, EAGER
from jobs_pipeline.defs.quality.tables import DUCKDB_POOL, job_runs
from jobs_pipeline.defs.resources.warehouse import DuckDBWarehouseResource
from jobs_pipeline.warehouse import anomalies, marts
from jobs_pipeline.warehouse.connection import scalar
from jobs_pipeline.warehouse.mart_checks import check_day
from jobs_pipeline.warehouse.tables import FINISHED_RUNS

GROUP = "marts"
# end_offset=1: today's partition exists too, so today's partial numbers can be refreshed
# during the day (the demo does); the schedule below finalises yesterday after midnight.
DAILY = dg.DailyPartitionsDefinition(start_date="2025-01-01", timezone="UTC", end_offset=1)
FRESHNESS = dg.FreshnessPolicy.cron(deadline_cron="0 3 * * *", lower_bound_delta=timedelta(hours=3))


def _day(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> date:
    return date.fromisoformat(context.partition_key)


def _publish(warehouse: DuckDBWarehouseResource, con, table: str, day: date) -> None:
    """After a mart day changed: its Parquet object (S3 lake only), then the read snapshot."""
    warehouse.export_days(con, table, [day])
    warehouse.publish(con)


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


class AnomalyConfig(dg.Config):
    """Detector knobs; ``threshold`` unset means the warehouse's ``anomaly_sensitivity``
    (``ANOMALY_SENSITIVITY``, default 3)."""

    threshold: float | None = None
    min_training_points: int = 7
    training_weeks: int = 10


@dg.asset(group_name=GROUP, pool=DUCKDB_POOL, kinds={"duckdb"}, deps=[marketplace_quality_daily],
          partitions_def=DAILY, freshness_policy=FRESHNESS, automation_condition=AFTER_FINISHED_DAY,
          description="Error-rate spikes and volume changes per partition key, vs the same weekday "
                      "(table quality_anomaly_scores, view quality_anomalies).")
def quality_anomalies(context: dg.AssetExecutionContext, config: AnomalyConfig,
                      warehouse: DuckDBWarehouseResource) -> dg.MaterializeResult:
    day = _day(context)
    threshold = config.threshold if config.threshold is not None else warehouse.anomaly_sensitivity
    settings = DetectorSettings(threshold=threshold, min_training_points=config.min_training_points,
                                training_weeks=config.training_weeks)
    with warehouse.connect() as con:
        found = anomalies.refresh_day(con, day, settings)
        judged, thin = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE status = 'not_enough_history') "
            "FROM quality_anomaly_scores WHERE day = $day", {"day": day}).fetchall()[0]
        _publish(warehouse, con, "quality_anomaly_scores", day)
    return dg.MaterializeResult(metadata={
        "dagster/row_count": int(judged), "anomalies": int(found), "judged": int(judged),
        "not_enough_history": int(thin), "threshold": float(threshold),
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


@dg.asset(group_name=GROUP, kinds={"html"},
          deps=[marketplace_quality_daily, field_error_hotspots, region_latency_daily, quality_anomalies],
          automation_condition=AFTER_MARTS,
          description="Self-contained offline HTML dashboard of the marts (QUALITY_DASHBOARD_PATH).")
def quality_dashboard(warehouse: DuckDBWarehouseResource) -> dg.MaterializeResult:
    # Reads the snapshot, which no writer holds: outside the writer pool.
    with warehouse.read_snapshot() as con:
        path, data = write_dashboard(con, warehouse.dashboard_file())
    return dg.MaterializeResult(metadata={
        "dashboard": dg.MetadataValue.url(path.as_uri()),
        "path": dg.MetadataValue.path(str(path)),
        "open_anomalies": len(data["anomalies"]),
        **{f"{name}_points": len(data[key]) for name, key in zip(
            CHARTS, ("error_rate", "top_fields", "latency", "anomalies"))},
    })


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


dashboard_job = dg.define_asset_job("quality_dashboard_job", selection=[quality_dashboard])

dashboard_daily = dg.ScheduleDefinition(
    name="quality_dashboard_daily", job=dashboard_job, cron_schedule="15 1 * * *", execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every day at 01:15 UTC: redraw the dashboard (it also follows the marts as they update).",
)

quality_automation_sensor = dg.AutomationConditionSensorDefinition(
    "quality_automation_sensor", target=dg.AssetSelection.groups(tables.GROUP, GROUP),
    default_status=dg.DefaultSensorStatus.RUNNING, minimum_interval_seconds=60,
    description="Refresh the quality tables, marts and dashboard as their automation conditions ask.",
)
