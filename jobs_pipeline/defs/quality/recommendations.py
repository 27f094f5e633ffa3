"""``quality_recommendations``: what to fix first, as a daily-partitioned Dagster asset.

A thin wrapper over :mod:`jobs_pipeline.warehouse.recommendations`: a run rewrites its UTC days
(one partition, or a range: a backfill is one run, ``SINGLE_RUN``) of ``quality_recommendations``
and ``latency_outliers`` (and their Parquet objects with an S3 lake), then publishes the read
snapshot once. It is part of ``marts_job``: ``job_runs_changed_days_sensor`` rebuilds every day
whose ``job_runs`` changed (today's included) and the 7 after it (their trend), and ``marts_daily``
finalises yesterday at 00:45 UTC, so no finished day stays marked ``is_partial``.
"""

import dagster as dg

from jobs_pipeline.defs.quality.partitions import DAILY, FRESHNESS, GROUP, SINGLE_RUN, days_between, days_of, publish_days
from jobs_pipeline.defs.quality.tables import DUCKDB_POOL, job_runs
from jobs_pipeline.defs.resources.warehouse import DuckDBWarehouseResource
from jobs_pipeline.warehouse import recommendations as reco


@dg.asset(group_name=GROUP, pool=DUCKDB_POOL, kinds={"duckdb"}, deps=[job_runs], partitions_def=DAILY,
          backfill_policy=SINGLE_RUN, freshness_policy=FRESHNESS,
          description="Per marketplace, category and region: the error rules ranked by the records fixing "
                      "each alone would make valid, their feeds and 7-day trend; and the regions whose p95 "
                      "latency is furthest above their marketplace's (table latency_outliers).")
def quality_recommendations(context: dg.AssetExecutionContext,
                            warehouse: DuckDBWarehouseResource) -> dg.MaterializeResult:
    start, end = days_of(context)
    days = days_between(start, end)
    with warehouse.connect() as con:
        rows = reco.refresh_recommendation_days(con, start, end)
        figures = reco.summary(con, start, end)
        top = con.execute("""SELECT day, partition_key, rule, sole_errors, errors, round(feeds_affected_share, 3)
                             FROM quality_recommendations WHERE day = $end AND rank = 1
                             ORDER BY sole_errors DESC, partition_key, rule LIMIT 10""", {"end": end}).fetchall()
        warehouse.export_days(con, reco.LATENCY_OUTLIERS.table, days)
        publish_days(warehouse, con, reco.QUALITY_RECOMMENDATIONS.table, days)
    table = "| day | key | fix first | records fixed | records failing it | feeds affected |\n" \
        "|---|---|---|---|---|---|\n" + "\n".join("| " + " | ".join(str(v) for v in row) + " |" for row in top)
    return dg.MaterializeResult(metadata={
        "dagster/row_count": rows[reco.QUALITY_RECOMMENDATIONS.table], "days": len(days), **figures,
        "fix_first": dg.MetadataValue.md(table),
    })


_CHECKS = {
    "unique_keys": ("duplicate_keys", "No key appears twice in the day (both tables)."),
    "rates_in_range": ("rows_out_of_range", "Rates and shares within [0, 1]; no more records fixed than "
                                            "in error; no more feeds affected than feeds."),
    "reconciles_with_job_runs": ("reconcile_difference", "Feeds per key, records failing each rule and jobs per "
                                                         "region equal job_runs for the day."),
}


def _build_check(name: str, figure: str, description: str) -> dg.AssetChecksDefinition:
    # In the writer pool too: a read-only open fails while another process writes the file.
    @dg.asset_check(asset=quality_recommendations, name=name, partitions_def=DAILY, description=description,
                    pool=DUCKDB_POOL)
    def _check(context: dg.AssetCheckExecutionContext, warehouse: DuckDBWarehouseResource) -> dg.AssetCheckResult:
        start, end = days_of(context)
        with warehouse.connect(read_only=True) as con:
            by_day = {day: reco.check_figures(con, day) for day in days_between(start, end)}
        if start == end:  # one partition: its figures
            return dg.AssetCheckResult(passed=by_day[start][figure] == 0, metadata=by_day[start])
        # A range (one run of a backfill): one verdict over every day, the failing days named.
        failing = [d.isoformat() for d, f in by_day.items() if f[figure]]
        totals = {k: sum(f[k] for f in by_day.values()) for k in by_day[start]}
        return dg.AssetCheckResult(passed=not failing, metadata={
            **totals, "days": len(by_day), "failing_days": ", ".join(failing[:20]) or "none"})

    return _check


recommendation_checks = [_build_check(name, figure, desc) for name, (figure, desc) in _CHECKS.items()]
