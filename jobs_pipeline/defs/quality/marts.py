"""The BI marts as daily-partitioned Dagster assets, their checks (and the anomalies'), the job and schedule.

Thin wrappers over :mod:`jobs_pipeline.warehouse`. A partition is one UTC day; a run covers one
partition or a range (a backfill is one run: ``BackfillPolicy.single_run``), each asset rewriting
its days in one statement (and their Parquet objects with an S3 lake), then publishing the read
snapshot once. What rebuilds when: ``job_runs_changed_days_sensor`` (:mod:`.late_days`) asks for
every day whose ``job_runs`` rows changed, today and late days alike; ``marts_daily`` finalises
yesterday at 00:45 UTC (its rows stop being ``is_partial``). Every mart must be fresh by 03:00
UTC (freshness policy).
"""

from datetime import timedelta

import dagster as dg

from jobs_pipeline.defs.quality import tables
from jobs_pipeline.defs.quality.anomalies import AnomalyConfig, quality_anomalies  # noqa: F401 (re-exported)
from jobs_pipeline.defs.quality.dashboard import dashboard_daily, dashboard_job, quality_dashboard  # noqa: F401
from jobs_pipeline.defs.quality.recommendations import quality_recommendations, recommendation_checks  # noqa: F401
from jobs_pipeline.defs.quality.partitions import (
    DAILY, FRESHNESS, GROUP, SINGLE_RUN, days_between, days_of, publish_days,
)
from jobs_pipeline.defs.quality.tables import DUCKDB_POOL, job_runs
from jobs_pipeline.defs.resources.warehouse import DuckDBWarehouseResource
from jobs_pipeline.warehouse import marts
from jobs_pipeline.warehouse.connection import scalar
from jobs_pipeline.warehouse.mart_checks import check_days
from jobs_pipeline.warehouse.tables import FINISHED_RUNS

_SPAN = "day BETWEEN $start AND $end"


def _refresh(context: dg.AssetExecutionContext, warehouse: DuckDBWarehouseResource, mart: marts.Mart,
             figures) -> dg.MaterializeResult:
    """Rewrite the run's days of ``mart``, publish once; metadata from ``figures(con, span)``."""
    start, end = days_of(context)
    span = {"start": start, "end": end}
    with warehouse.connect() as con:
        rows = marts.refresh_days(con, mart, start, end)
        metadata = figures(con, span)
        publish_days(warehouse, con, mart.table, days_between(start, end))
    return dg.MaterializeResult(metadata={"dagster/row_count": rows, "days": (end - start).days + 1, **metadata})


def _quality_figures(con, span) -> dict:
    jobs, failed, total, errors = con.execute(
        "SELECT coalesce(sum(jobs), 0), coalesce(sum(jobs_failed), 0), coalesce(sum(records_total), 0), "
        f"coalesce(sum(records_error), 0) FROM marketplace_quality_daily WHERE {_SPAN}", span).fetchall()[0]
    return {"jobs": int(jobs), "jobs_failed": int(failed), "records_total": int(total),
            "overall_error_rate": float(errors / total) if total else 0.0}


def _hotspot_figures(con, span) -> dict:
    field_errors = scalar(con, f"SELECT coalesce(sum(errors), 0) FROM field_error_hotspots WHERE {_SPAN} "
                               "AND kind = 'field'", span)
    top = con.execute("SELECT marketplace, name, sum(errors) AS e, round(sum(errors) / sum(sum(errors)) "
                      "OVER (PARTITION BY marketplace), 3) FROM field_error_hotspots "
                      f"WHERE {_SPAN} AND kind = 'field' GROUP BY marketplace, name ORDER BY e DESC, name LIMIT 10",
                      span).fetchall()
    table = "| marketplace | field | errors | share |\n|---|---|---|---|\n" + "\n".join(
        "| " + " | ".join(str(v) for v in row) + " |" for row in top)
    return {"field_errors": int(field_errors), "top_fields": dg.MetadataValue.md(table)}


def _latency_figures(con, span) -> dict:
    p95, l95 = con.execute(f"SELECT quantile_cont(processing_time_ms, 0.95), quantile_cont(latency_ms, 0.95) "
                           f"FROM ({FINISHED_RUNS}) WHERE {_SPAN}", span).fetchall()[0]
    return {"p95_processing_time_ms": float(p95 or 0.0), "p95_latency_ms": float(l95 or 0.0)}


def _mart_asset(mart: marts.Mart, figures, description: str):
    @dg.asset(name=mart.table, group_name=GROUP, pool=DUCKDB_POOL, kinds={"duckdb"}, deps=[job_runs],
              partitions_def=DAILY, backfill_policy=SINGLE_RUN, freshness_policy=FRESHNESS,
              description=description)
    def _asset(context: dg.AssetExecutionContext, warehouse: DuckDBWarehouseResource) -> dg.MaterializeResult:
        return _refresh(context, warehouse, mart, figures)

    return _asset


marketplace_quality_daily = _mart_asset(
    marts.MARKETPLACE_QUALITY_DAILY, _quality_figures,
    description="Jobs, records, error_rate and warning_rate by marketplace, category, region and UTC day.")
field_error_hotspots = _mart_asset(
    marts.FIELD_ERROR_HOTSPOTS, _hotspot_figures,
    description="Fields and rules failing most per marketplace and ruleset version, share and 7-day trend.")
region_latency_daily = _mart_asset(
    marts.REGION_LATENCY_DAILY, _latency_figures,
    description="p50/p95/p99 processing time and latency per region (and marketplace), busiest hour.")


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
        start, end = days_of(context)
        with warehouse.connect(read_only=True) as con:
            by_day = check_days(con, table, start, end, only=(figure, "is_partial_wrong"))
        if start == end:  # one partition: its figures
            return dg.AssetCheckResult(passed=by_day[start][figure] == 0, metadata=by_day[start])
        # A range (one run of a backfill): one verdict over every day, the failing days named.
        failing = [d.isoformat() for d, f in by_day.items() if f[figure]]
        totals = {k: sum(f[k] for f in by_day.values()) for k in next(iter(by_day.values()))}
        return dg.AssetCheckResult(passed=not failing, metadata={
            **totals, "days": len(by_day), "failing_days": ", ".join(failing[:20]) or "none"})

    return _check


mart_checks = [_build_check(asset, table, name, figure, desc)
               for asset, table in MART_TABLES.items() for name, (figure, desc) in _CHECKS.items()]


marts_job = dg.define_asset_job(
    "marts_job", selection=[marketplace_quality_daily, field_error_hotspots, region_latency_daily,
                            quality_anomalies, quality_recommendations],
    description="Refresh UTC days of the BI marts (one partition, or a range in one run).",
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
