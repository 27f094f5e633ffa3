"""The BI marts: daily tables Metabase/Superset read, refreshed one UTC day at a time.

:func:`refresh_day` replaces one ``day`` of a mart (``DELETE`` then ``INSERT``, one
transaction), so a backfill is one call per day. Marts count the finished jobs of ``job_runs``
(its ``day``, final event and metrics; see :mod:`jobs_pipeline.warehouse.tables`), with
record-weighted rates in [0, 1]. Column meanings: docs/dashboards.md and the tables' comments.
"""

from dataclasses import dataclass
from datetime import date

import duckdb

from jobs_pipeline.warehouse.connection import scalar, transaction
from jobs_pipeline.warehouse.tables import FINISHED_RUNS


@dataclass(frozen=True)
class Mart:
    """One mart: its table, DDL, the SELECT computing one day (``$day`` parameter) and key."""

    table: str
    ddl: str
    select_day: str
    key: tuple[str, ...]
    comment: str


MARKETPLACE_QUALITY_DAILY = Mart(
    table="marketplace_quality_daily",
    comment="Jobs, records and record-weighted error/warning rates by marketplace, category, "
            "region and UTC day (finished jobs).",
    key=("day", "marketplace", "category", "region"),
    ddl="""CREATE TABLE IF NOT EXISTS marketplace_quality_daily (
        day DATE NOT NULL, marketplace VARCHAR NOT NULL, category VARCHAR NOT NULL,
        region VARCHAR NOT NULL, partition_key VARCHAR NOT NULL,
        jobs BIGINT NOT NULL, jobs_completed BIGINT NOT NULL, jobs_failed BIGINT NOT NULL,
        records_total BIGINT NOT NULL, records_valid BIGINT NOT NULL,
        records_error BIGINT NOT NULL, records_warning BIGINT NOT NULL,
        error_rate DOUBLE NOT NULL, warning_rate DOUBLE NOT NULL,
        payload_size_bytes BIGINT NOT NULL, refreshed_at TIMESTAMPTZ NOT NULL)""",
    select_day=f"""
        WITH runs AS ({FINISHED_RUNS})
        SELECT day, marketplace, category, region,
               marketplace || ':' || category || ':' || region AS partition_key,
               count(*), count(*) FILTER (WHERE status = 'completed'),
               count(*) FILTER (WHERE status = 'failed'),
               sum(records_total), sum(records_valid), sum(records_error), sum(records_warning),
               coalesce(sum(records_error) / nullif(sum(records_total), 0), 0),
               coalesce(sum(records_warning) / nullif(sum(records_total), 0), 0),
               coalesce(sum(payload_size_bytes), 0), now()
        FROM runs WHERE day = $day
        GROUP BY ALL""",
)

FIELD_ERROR_HOTSPOTS = Mart(
    table="field_error_hotspots",
    comment="Per marketplace and ruleset version, the fields (kind='field') and rules "
            "(kind='rule') that failed on a UTC day, their share of that day's errors and "
            "the trend versus the previous 7 days.",
    key=("day", "marketplace", "ruleset", "kind", "name"),
    ddl="""CREATE TABLE IF NOT EXISTS field_error_hotspots (
        day DATE NOT NULL, marketplace VARCHAR NOT NULL, ruleset VARCHAR NOT NULL,
        kind VARCHAR NOT NULL, name VARCHAR NOT NULL,
        errors BIGINT NOT NULL, jobs_affected BIGINT NOT NULL, share DOUBLE NOT NULL,
        rank INTEGER NOT NULL, errors_prev_7d BIGINT NOT NULL, avg_prev_7d DOUBLE NOT NULL,
        trend_vs_prev_7d DOUBLE, refreshed_at TIMESTAMPTZ NOT NULL)""",
    select_day=f"""
        WITH runs AS (SELECT day, marketplace, coalesce(ruleset, 'default') AS ruleset,
                             errors_by_field, errors_by_rule
                      FROM ({FINISHED_RUNS}) WHERE day BETWEEN $day - INTERVAL 7 DAY AND $day),
        counts AS (
            SELECT day, marketplace, ruleset, 'field' AS kind, j.key AS name,
                   CAST(j.value AS BIGINT) AS n
            FROM runs, json_each(runs.errors_by_field) j
            UNION ALL
            SELECT day, marketplace, ruleset, 'rule', j.key, CAST(j.value AS BIGINT)
            FROM runs, json_each(runs.errors_by_rule) j
        ),
        today AS (
            SELECT marketplace, ruleset, kind, name, sum(n) AS errors,
                   count(*) FILTER (WHERE n > 0) AS jobs_affected
            FROM counts WHERE day = $day GROUP BY ALL HAVING sum(n) > 0
        ),
        before AS (
            SELECT marketplace, ruleset, kind, name, sum(n) AS errors
            FROM counts WHERE day < $day GROUP BY ALL
        )
        SELECT $day, t.marketplace, t.ruleset, t.kind, t.name, t.errors, t.jobs_affected,
               t.errors / sum(t.errors) OVER (PARTITION BY t.marketplace, t.ruleset, t.kind),
               rank() OVER (PARTITION BY t.marketplace, t.ruleset, t.kind ORDER BY t.errors DESC),
               coalesce(b.errors, 0), coalesce(b.errors, 0) / 7.0,
               CASE WHEN coalesce(b.errors, 0) = 0 THEN NULL
                    ELSE t.errors / (b.errors / 7.0) - 1 END,
               now()
        FROM today t LEFT JOIN before b USING (marketplace, ruleset, kind, name)""",
)

ALL_MARKETPLACES = "(all)"  # not a valid key segment, so never a real marketplace

REGION_LATENCY_DAILY = Mart(
    table="region_latency_daily",
    comment="p50/p95/p99 of processing_time_ms and latency_ms per region and marketplace "
            "(marketplace='(all)' is the whole region) and UTC day, with the busiest hour.",
    key=("day", "region", "marketplace"),
    ddl="""CREATE TABLE IF NOT EXISTS region_latency_daily (
        day DATE NOT NULL, region VARCHAR NOT NULL, marketplace VARCHAR NOT NULL,
        jobs BIGINT NOT NULL,
        processing_p50_ms DOUBLE, processing_p95_ms DOUBLE, processing_p99_ms DOUBLE,
        latency_p50_ms DOUBLE, latency_p95_ms DOUBLE, latency_p99_ms DOUBLE,
        peak_hour TIMESTAMP NOT NULL, peak_jobs_per_hour BIGINT NOT NULL,
        refreshed_at TIMESTAMPTZ NOT NULL)""",
    select_day=f"""
        WITH runs AS (SELECT *, date_trunc('hour', timezone('UTC', last_event_at)) AS hour
                      FROM ({FINISHED_RUNS}) WHERE day = $day),
        stats AS (
            SELECT region, coalesce(marketplace, '{ALL_MARKETPLACES}') AS marketplace, count(*) AS jobs,
                   quantile_cont(processing_time_ms, 0.5) AS p50, quantile_cont(processing_time_ms, 0.95) AS p95,
                   quantile_cont(processing_time_ms, 0.99) AS p99,
                   quantile_cont(latency_ms, 0.5) AS l50, quantile_cont(latency_ms, 0.95) AS l95,
                   quantile_cont(latency_ms, 0.99) AS l99
            FROM runs GROUP BY GROUPING SETS ((region, marketplace), (region))
        ),
        hourly AS (
            SELECT region, coalesce(marketplace, '{ALL_MARKETPLACES}') AS marketplace, hour, count(*) AS n
            FROM runs GROUP BY GROUPING SETS ((region, marketplace, hour), (region, hour))
        ),
        peak AS (
            SELECT region, marketplace, arg_max(hour, n ORDER BY n, hour DESC) AS peak_hour, max(n) AS peak_n
            FROM hourly GROUP BY ALL
        )
        SELECT $day, s.region, s.marketplace, s.jobs, s.p50, s.p95, s.p99, s.l50, s.l95, s.l99,
               p.peak_hour, p.peak_n, now()
        FROM stats s JOIN peak p USING (region, marketplace)""",
)

MARTS: dict[str, Mart] = {m.table: m for m in (MARKETPLACE_QUALITY_DAILY, FIELD_ERROR_HOTSPOTS, REGION_LATENCY_DAILY)}


def ensure_mart(con: duckdb.DuckDBPyConnection, mart: Mart) -> None:
    con.execute(mart.ddl)
    con.execute(f"COMMENT ON TABLE {mart.table} IS '{mart.comment.replace(chr(39), chr(39) * 2)}'")


def refresh_day(con: duckdb.DuckDBPyConnection, mart: Mart, day: date) -> int:
    """Replace ``day`` in ``mart`` (and nothing else); return its row count."""
    ensure_mart(con, mart)
    with transaction(con):
        con.execute(f"DELETE FROM {mart.table} WHERE day = $day", {"day": day})
        con.execute(f"INSERT INTO {mart.table} {mart.select_day}", {"day": day})
    return scalar(con, f"SELECT count(*) FROM {mart.table} WHERE day = $day", {"day": day})


def finished_jobs_on(con: duckdb.DuckDBPyConnection, day: date) -> int:
    """Finished jobs of ``job_runs`` that ended on ``day`` (the reconciliation reference)."""
    return scalar(con, f"SELECT count(*) FROM ({FINISHED_RUNS}) WHERE day = $day", {"day": day})
