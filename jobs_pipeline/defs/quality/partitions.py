"""The daily partitions every mart shares (one UTC day), their freshness policy and the
step after a mart day changed (its Parquet object, then the read snapshot)."""

from datetime import date, timedelta

import dagster as dg

from jobs_pipeline.defs.resources.warehouse import DuckDBWarehouseResource

GROUP = "marts"
# end_offset=1: today's partition exists too, so today's partial numbers can be refreshed
# during the day (the demo does); ``marts_daily`` finalises yesterday after midnight.
DAILY = dg.DailyPartitionsDefinition(start_date="2025-01-01", timezone="UTC", end_offset=1)
FRESHNESS = dg.FreshnessPolicy.cron(deadline_cron="0 3 * * *", lower_bound_delta=timedelta(hours=3))


def day_of(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> date:
    return date.fromisoformat(context.partition_key)


def publish_day(warehouse: DuckDBWarehouseResource, con, table: str, day: date) -> None:
    """After a mart day changed: its Parquet object (S3 lake only), then the read snapshot."""
    warehouse.export_days(con, table, [day])
    warehouse.publish(con)
