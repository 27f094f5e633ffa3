"""``job_events``: the lake's events ingested into DuckDB, and its checks.

Thin wrapper over :mod:`jobs_pipeline.warehouse.events`; in the ``duckdb_writer`` pool (limit 1
in ``dagster.yaml``) like every writer. Ingested hourly (:mod:`.automation`); ``job_runs``
(:mod:`.tables`) follows it. One materialisation reads everything that has landed; what is
still waiting afterwards is metadata (``lake_pending_files``) and the ``job_events_lake_backlog``
check fails past ``LAKE_BACKLOG_MAX_FILES``, so a backlog is never silent.
"""

import dagster as dg

from jobs_pipeline.defs.quality.automation import INGEST_HOURLY
from jobs_pipeline.defs.resources.warehouse import DuckDBWarehouseResource
from jobs_pipeline.warehouse.connection import scalar
from jobs_pipeline.warehouse.events import duplicate_event_ids, ingest_lake, lake_backlog

DUCKDB_POOL = "duckdb_writer"
GROUP = "quality"


@dg.asset(group_name=GROUP, pool=DUCKDB_POOL, kinds={"duckdb"}, automation_condition=INGEST_HOURLY,
          description="Every job event from the lake, once (incremental by byte offset, de-duplicated by event_id).")
def job_events(context: dg.AssetExecutionContext, warehouse: DuckDBWarehouseResource) -> dg.MaterializeResult:
    source = warehouse.lake_source()
    with warehouse.connect() as con:
        stats = ingest_lake(con, source, window_days=warehouse.dedup_window_days)
        rows = scalar(con, "SELECT count(*) FROM job_events")
        exported = warehouse.export_days(con, "job_events", stats.days)
        backlog = lake_backlog(con, source)
    context.log.info(f"ingested {stats.events_inserted} new events from {stats.files} lake files; "
                     f"{backlog.files} files landed meanwhile")
    return dg.MaterializeResult(metadata={
        "dagster/row_count": rows,
        "files_ingested": stats.files,
        "bytes_read": stats.bytes_read,
        "events_read": stats.events_read,
        "events_inserted": stats.events_inserted,
        "parquet_days_written": len(exported),
        "lake_pending_files": backlog.files,
        "lake_pending_bytes": backlog.bytes,
    })


@dg.asset_check(asset=job_events, pool=DUCKDB_POOL,
                description="No event id appears twice (counts any re-emitted copy beyond EVENT_DEDUP_WINDOW_DAYS).")
def job_events_unique_ids(warehouse: DuckDBWarehouseResource) -> dg.AssetCheckResult:
    with warehouse.connect(read_only=True) as con:
        dupes = duplicate_event_ids(con)
    return dg.AssetCheckResult(passed=dupes == 0, metadata={"duplicate_event_ids": dupes})


@dg.asset_check(asset=job_events, pool=DUCKDB_POOL,
                description="Lake files with events not yet in job_events stay within LAKE_BACKLOG_MAX_FILES.")
def job_events_lake_backlog(warehouse: DuckDBWarehouseResource) -> dg.AssetCheckResult:
    with warehouse.connect(read_only=True) as con:
        backlog = lake_backlog(con, warehouse.lake_source())
    return dg.AssetCheckResult(
        passed=backlog.files <= warehouse.lake_backlog_max_files,
        severity=dg.AssetCheckSeverity.ERROR,
        description=None if backlog.files <= warehouse.lake_backlog_max_files else
        f"{backlog.files} lake files ({backlog.bytes} bytes) wait for job_events, "
        f"above LAKE_BACKLOG_MAX_FILES={warehouse.lake_backlog_max_files}: ingestion is falling behind",
        metadata={"lake_pending_files": backlog.files, "lake_pending_bytes": backlog.bytes,
                  "max_files": warehouse.lake_backlog_max_files})
