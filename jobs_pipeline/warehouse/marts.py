"""The BI marts: daily tables Metabase/Superset read, refreshed by UTC day.

:func:`refresh_days` replaces a range of days of a mart (``DELETE`` then one ``INSERT``, one
transaction): a backfill of 60 days is one statement per mart, not 60; :func:`refresh_day` is
the range of one day. Marts count the finished jobs of ``job_runs`` (its ``day``, final event
and metrics; see :mod:`jobs_pipeline.warehouse.tables`), with record-weighted rates in [0, 1].
Every row carries ``is_partial``: its UTC day had not ended when it was refreshed (today).
Column meanings: docs/dashboards.md and the tables' comments.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import duckdb

from jobs_pipeline.warehouse.connection import scalar, transaction
from jobs_pipeline.warehouse.tables import FINISHED_RUNS


@dataclass(frozen=True)
class Mart:
    """One mart: its table, DDL, key and the SELECT computing its rows.

    ``select_range`` computes days ``$start`` to ``$end`` (inclusive) in one statement, with
    ``$now`` (``refreshed_at``) and ``$today`` (the UTC date at refresh: ``is_partial`` when
    ``day >= $today``); a mart without it has ``select_day`` (one ``$day``, with the same
    ``$now`` and ``$today``), run day by day."""

    table: str
    ddl: str
    select_day: str | None
    key: tuple[str, ...]
    comment: str
    select_range: str | None = None


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
        payload_size_bytes BIGINT NOT NULL, refreshed_at TIMESTAMPTZ NOT NULL,
        is_partial BOOLEAN NOT NULL)""",
    select_day=None,
    select_range=f"""
        WITH runs AS ({FINISHED_RUNS})
        SELECT day, marketplace, category, region,
               marketplace || ':' || category || ':' || region AS partition_key,
               count(*), count(*) FILTER (WHERE status = 'completed'),
               count(*) FILTER (WHERE status = 'failed'),
               sum(records_total), sum(records_valid), sum(records_error), sum(records_warning),
               coalesce(sum(records_error) / nullif(sum(records_total), 0), 0),
               coalesce(sum(records_warning) / nullif(sum(records_total), 0), 0),
               coalesce(sum(payload_size_bytes), 0), $now, day >= $today
        FROM runs WHERE day BETWEEN $start AND $end
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
        trend_vs_prev_7d DOUBLE, refreshed_at TIMESTAMPTZ NOT NULL, is_partial BOOLEAN NOT NULL)""",
    select_day=None,
    # Reads job_run_errors (exploded with job_runs, finished jobs only) for the range and the 7
    # days before it: a day's trend is a window over the daily totals, no JSON parsed here.
    select_range="""
        WITH daily AS (
            SELECT day, marketplace, ruleset, kind, name, sum(n) AS errors,
                   count(*) FILTER (WHERE n > 0) AS jobs_affected
            FROM job_run_errors WHERE day BETWEEN $start - INTERVAL 7 DAY AND $end
            GROUP BY ALL
        ),
        trend AS (
            SELECT *, coalesce(sum(errors) OVER (
                       PARTITION BY marketplace, ruleset, kind, name ORDER BY day
                       RANGE BETWEEN INTERVAL 7 DAY PRECEDING AND INTERVAL 1 DAY PRECEDING), 0) AS prev
            FROM daily
        ),
        days AS (SELECT * FROM trend WHERE day BETWEEN $start AND $end AND errors > 0)
        SELECT day, marketplace, ruleset, kind, name, errors, jobs_affected,
               errors / sum(errors) OVER (PARTITION BY day, marketplace, ruleset, kind),
               rank() OVER (PARTITION BY day, marketplace, ruleset, kind ORDER BY errors DESC),
               prev, prev / 7.0,
               CASE WHEN prev = 0 THEN NULL ELSE errors / (prev / 7.0) - 1 END,
               $now, day >= $today
        FROM days""",
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
        refreshed_at TIMESTAMPTZ NOT NULL, is_partial BOOLEAN NOT NULL)""",
    select_day=None,
    # peak_hour: the UTC hour with most jobs finishing; a tie goes to the EARLIEST such hour.
    select_range=f"""
        WITH runs AS (SELECT *, date_trunc('hour', timezone('UTC', last_event_at)) AS hour
                      FROM ({FINISHED_RUNS}) WHERE day BETWEEN $start AND $end),
        stats AS (
            SELECT day, region, coalesce(marketplace, '{ALL_MARKETPLACES}') AS marketplace, count(*) AS jobs,
                   quantile_cont(processing_time_ms, 0.5) AS p50, quantile_cont(processing_time_ms, 0.95) AS p95,
                   quantile_cont(processing_time_ms, 0.99) AS p99,
                   quantile_cont(latency_ms, 0.5) AS l50, quantile_cont(latency_ms, 0.95) AS l95,
                   quantile_cont(latency_ms, 0.99) AS l99
            FROM runs GROUP BY GROUPING SETS ((day, region, marketplace), (day, region))
        ),
        hourly AS (
            SELECT day, region, coalesce(marketplace, '{ALL_MARKETPLACES}') AS marketplace, hour, count(*) AS n
            FROM runs GROUP BY GROUPING SETS ((day, region, marketplace, hour), (day, region, hour))
        ),
        peak AS (
            SELECT day, region, marketplace, arg_min(hour, (-n, hour)) AS peak_hour, max(n) AS peak_n
            FROM hourly GROUP BY ALL
        )
        SELECT day, s.region, s.marketplace, s.jobs, s.p50, s.p95, s.p99, s.l50, s.l95, s.l99,
               p.peak_hour, p.peak_n, $now, day >= $today
        FROM stats s JOIN peak p USING (day, region, marketplace)""",
)

MARTS: dict[str, Mart] = {m.table: m for m in (MARKETPLACE_QUALITY_DAILY, FIELD_ERROR_HOTSPOTS, REGION_LATENCY_DAILY)}


def ensure_mart(con: duckdb.DuckDBPyConnection, mart: Mart) -> None:
    con.execute(mart.ddl)
    if mart.select_range is not None:
        _add_is_partial(con, mart.table)
    con.execute(f"COMMENT ON TABLE {mart.table} IS '{mart.comment.replace(chr(39), chr(39) * 2)}'")


def _add_is_partial(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """A mart built before ``is_partial`` existed gets it (last, like the DDL), filled from
    ``refreshed_at``: a row was partial when refreshed on or before its own UTC day."""
    present = scalar(con, "SELECT count(*) FROM duckdb_columns() WHERE database_name = current_database() "
                          "AND schema_name = 'main' AND table_name = $t AND column_name = 'is_partial'", {"t": table})
    if present:
        return
    with transaction(con):
        con.execute(f"ALTER TABLE {table} ADD COLUMN is_partial BOOLEAN")
        con.execute(f"UPDATE {table} SET is_partial = day >= CAST(timezone('UTC', refreshed_at) AS DATE)")
    # DuckDB adds the constraint only once the update is committed.
    con.execute(f"ALTER TABLE {table} ALTER COLUMN is_partial SET NOT NULL")


def refresh_days(con: duckdb.DuckDBPyConnection, mart: Mart, start: date, end: date,
                 now: datetime | None = None) -> int:
    """Replace days ``start`` to ``end`` (inclusive) in ``mart``, and nothing else, in one
    transaction; return the row count of those days. ``now`` is the refresh time (default: now):
    rows of its UTC day or later are ``is_partial``."""
    now = now or datetime.now(UTC)
    ensure_mart(con, mart)
    span = {"start": start, "end": end}
    clock = {"now": now, "today": now.astimezone(UTC).date()}
    with transaction(con):
        con.execute(f"DELETE FROM {mart.table} WHERE day BETWEEN $start AND $end", span)
        if mart.select_range is not None:
            con.execute(f"INSERT INTO {mart.table} {mart.select_range}", {**span, **clock})
        else:
            day = start
            while day <= end:
                con.execute(f"INSERT INTO {mart.table} {mart.select_day}", {"day": day, **clock})
                day += timedelta(days=1)
    return scalar(con, f"SELECT count(*) FROM {mart.table} WHERE day BETWEEN $start AND $end", span)


def refresh_day(con: duckdb.DuckDBPyConnection, mart: Mart, day: date, now: datetime | None = None) -> int:
    """Replace ``day`` in ``mart`` (and nothing else); return its row count."""
    return refresh_days(con, mart, day, day, now)


def finished_jobs_on(con: duckdb.DuckDBPyConnection, day: date) -> int:
    """Finished jobs of ``job_runs`` that ended on ``day`` (the reconciliation reference)."""
    return scalar(con, f"SELECT count(*) FROM ({FINISHED_RUNS}) WHERE day = $day", {"day": day})
