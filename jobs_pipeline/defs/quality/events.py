"""``job_events``: the lake's events ingested into DuckDB, and its uniqueness check.

Thin wrapper over :mod:`jobs_pipeline.warehouse.events`; in the ``duckdb_writer`` pool (limit 1
in ``dagster.yaml``) like every writer. Ingested hourly (:mod:`.automation`); ``job_runs``
(:mod:`.tables`) follows it.
"""

import dagster as dg

from jobs_pipeline.defs.quality.automation import INGEST_HOURLY
from jobs_pipeline.defs.resources.warehouse import DuckDBWarehouseResource
from jobs_pipeline.warehouse.connection import scalar
from jobs_pipeline.warehouse.events import duplicate_event_ids, ingest_lake

DUCKDB_POOL = "duckdb_writer"
GROUP = "quality"


@dg.asset(group_name=GROUP, pool=DUCKDB_POOL, kinds={"duckdb"}, automation_condition=INGEST_HOURLY,
          description="Every job event from the lake, once (incremental, de-duplicated by event_id).")
def job_events(context: dg.AssetExecutionContext, warehouse: DuckDBWarehouseResource) -> dg.MaterializeResult:
    with warehouse.connect() as con:
        stats = ingest_lake(con, warehouse.lake_source(), window_days=warehouse.dedup_window_days)
        rows = scalar(con, "SELECT count(*) FROM job_events")
        exported = warehouse.export_days(con, "job_events", stats.days)
    context.log.info(f"ingested {stats.events_inserted} new events from {stats.files} lake files")
    return dg.MaterializeResult(metadata={
        "dagster/row_count": rows,
        "files_ingested": stats.files,
        "events_read": stats.events_read,
        "events_inserted": stats.events_inserted,
        "parquet_days_written": len(exported),
    })


@dg.asset_check(asset=job_events, pool=DUCKDB_POOL,
                description="No event id appears twice (counts any re-emitted copy beyond EVENT_DEDUP_WINDOW_DAYS).")
def job_events_unique_ids(warehouse: DuckDBWarehouseResource) -> dg.AssetCheckResult:
    with warehouse.connect(read_only=True) as con:
        dupes = duplicate_event_ids(con)
    return dg.AssetCheckResult(passed=dupes == 0, metadata={"duplicate_event_ids": dupes})
