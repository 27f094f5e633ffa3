"""The daily partitions every mart shares (one UTC day), their freshness policy, the days a
run covers (one partition, or a range: marts run a backfill as one run, ``SINGLE_RUN``) and the
step after mart days changed (their Parquet objects, then the read snapshot)."""

from datetime import date, timedelta

import dagster as dg

from jobs_pipeline.defs.resources.warehouse import DuckDBWarehouseResource

GROUP = "marts"
# end_offset=1: today's partition exists too, so today's partial numbers can be refreshed
# during the day (the demo does); ``marts_daily`` finalises yesterday after midnight.
DAILY = dg.DailyPartitionsDefinition(start_date="2025-01-01", timezone="UTC", end_offset=1)
FRESHNESS = dg.FreshnessPolicy.cron(deadline_cron="0 3 * * *", lower_bound_delta=timedelta(hours=3))
#: A backfill of many days is one run; each asset computes its days in one statement.
SINGLE_RUN = dg.BackfillPolicy.single_run()


def day_of(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> date:
    return date.fromisoformat(context.partition_key)


def days_of(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> tuple[date, date]:
    """First and last UTC day (inclusive) of the run: one partition or a partition range."""
    window = context.partition_time_window
    return window.start.date(), (window.end - timedelta(days=1)).date()


def days_between(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def publish_day(warehouse: DuckDBWarehouseResource, con, table: str, day: date) -> None:
    """After a mart day changed: its Parquet object (S3 lake only), then the read snapshot."""
    publish_days(warehouse, con, table, [day])


def publish_days(warehouse: DuckDBWarehouseResource, con, table: str, days: list[date]) -> None:
    """After mart days changed: their Parquet objects (S3 lake only), then the snapshot once."""
    warehouse.export_days(con, table, days)
    warehouse.publish(con)
