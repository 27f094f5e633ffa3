"""Data-quality checks of days of a mart, as plain numbers (the asset checks wrap them).

For each mart and day: rows whose rates leave [0, 1], duplicate keys, the difference
between the mart's totals and ``job_runs`` (0 when they reconcile), whether the mart is
empty although finished jobs ended that day, and rows whose ``is_partial`` contradicts their
``refreshed_at``. A check passes when every count is 0. :func:`check_days` computes a range
of days in one query per figure (a backfill checks 60 days at once); :func:`check_day` is one.
"""

from datetime import UTC, date, datetime, timedelta

import duckdb

from jobs_pipeline.warehouse.marts import MARTS
from jobs_pipeline.warehouse.tables import FINISHED_RUNS

_RATES = {
    "marketplace_quality_daily": "error_rate NOT BETWEEN 0 AND 1 OR warning_rate NOT BETWEEN 0 AND 1",
    "field_error_hotspots": "share NOT BETWEEN 0 AND 1",
    "region_latency_daily": "processing_p50_ms > processing_p95_ms OR processing_p95_ms > processing_p99_ms",
    "quality_anomaly_scores": "metric = 'error_rate' AND value NOT BETWEEN 0 AND 1",
}

_KEYS = {name: mart.key for name, mart in MARTS.items()} | {
    "quality_anomaly_scores": ("day", "partition_key", "metric"),
}

_RANGE = "day BETWEEN $start AND $end"

# (mart total, job_runs total) per day of the range; they must be equal.
_RECONCILE = {
    "marketplace_quality_daily": (
        f"SELECT day, sum(jobs) * 1e6 + sum(records_total) + sum(records_error) "
        f"FROM marketplace_quality_daily WHERE {_RANGE} GROUP BY day",
        f"SELECT day, count(*) * 1e6 + coalesce(sum(records_total), 0) + coalesce(sum(records_error), 0) "
        f"FROM ({FINISHED_RUNS}) WHERE {_RANGE} GROUP BY day",
    ),
    # Independent of job_run_errors (what the mart reads): the JSON of job_runs itself.
    "field_error_hotspots": (
        f"SELECT day, sum(errors) FROM field_error_hotspots WHERE {_RANGE} AND kind = 'field' GROUP BY day",
        f"SELECT day, sum(CAST(j.value AS BIGINT)) FROM ({FINISHED_RUNS}) r, json_each(r.errors_by_field) j "
        f"WHERE {_RANGE} GROUP BY day",
    ),
    "region_latency_daily": (
        f"SELECT day, sum(jobs) FROM region_latency_daily WHERE {_RANGE} AND marketplace = '(all)' GROUP BY day",
        f"SELECT day, count(*) FROM ({FINISHED_RUNS}) WHERE {_RANGE} GROUP BY day",
    ),
    # Every partition key with finished jobs that day gets an error_rate verdict.
    "quality_anomaly_scores": (
        f"SELECT day, count(*) FROM quality_anomaly_scores WHERE {_RANGE} AND metric = 'error_rate' GROUP BY day",
        f"SELECT day, count(DISTINCT partition_key) FROM ({FINISHED_RUNS}) WHERE {_RANGE} GROUP BY day",
    ),
}


def _by_day(con: duckdb.DuckDBPyConnection, sql: str, params: dict) -> dict[date, float]:
    return {d: v for d, v in con.execute(sql, params).fetchall()}


def _has_column(con: duckdb.DuckDBPyConnection, table: str, column: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM duckdb_columns() WHERE database_name = current_database() "
                            "AND schema_name = 'main' AND table_name = $t AND column_name = $c",
                            {"t": table, "c": column}).fetchall()[0][0])


FIGURES = ("rows_out_of_range", "duplicate_keys", "reconcile_difference", "empty_although_jobs_ran",
           "is_partial_wrong")


def check_days(con: duckdb.DuckDBPyConnection, table: str, start: date, end: date,
               now: datetime | None = None, only: tuple[str, ...] = FIGURES) -> dict[date, dict[str, float]]:
    """The check figures of ``table`` for each day ``start`` to ``end`` (all 0 means healthy),
    with ``rows`` and ``jobs_that_day``; ``only`` limits the figures computed (a check needs
    one: the reconciliation of the hot spots parses every job's JSON of the range).

    ``quality_anomaly_scores`` of a day not ended at ``now`` (default: now) may be empty: the
    detector does not judge a partial day, so only a non-empty partial day must reconcile."""
    today = (now or datetime.now(UTC)).astimezone(UTC).date()
    p = {"start": start, "end": end}
    key = ", ".join(_KEYS[table])
    rows = _by_day(con, f"SELECT day, count(*) FROM {table} WHERE {_RANGE} GROUP BY day", p)
    jobs = _by_day(con, f"SELECT day, count(*) FROM ({FINISHED_RUNS}) WHERE {_RANGE} GROUP BY day", p)
    out_of_range = dupes = mart_totals = runs_totals = wrong_partial = {}
    if "rows_out_of_range" in only:
        out_of_range = _by_day(con, f"SELECT day, count(*) FROM {table} WHERE {_RANGE} AND ({_RATES[table]}) "
                                    "GROUP BY day", p)
    if "duplicate_keys" in only:
        dupes = _by_day(con, f"SELECT day, count(*) - count(DISTINCT ({key})) FROM {table} WHERE {_RANGE} "
                             "GROUP BY day", p)
    if "reconcile_difference" in only or (table == "field_error_hotspots" and "empty_although_jobs_ran" in only):
        mart_totals, runs_totals = (_by_day(con, q, p) for q in _RECONCILE[table])
    if "is_partial_wrong" in only and _has_column(con, table, "is_partial"):
        wrong_partial = _by_day(con, f"SELECT day, count(*) FROM {table} WHERE {_RANGE} AND "
                                     "is_partial <> (day >= CAST(timezone('UTC', refreshed_at) AS DATE)) "
                                     "GROUP BY day", p)
    figures = {}
    day = start
    while day <= end:
        n_rows, n_jobs = rows.get(day, 0), jobs.get(day, 0)
        mart_total, runs_total = mart_totals.get(day) or 0, runs_totals.get(day) or 0
        skipped_partial = table == "quality_anomaly_scores" and day >= today and n_rows == 0
        if table == "field_error_hotspots" and not runs_total:
            expect_rows = False  # no errors at all that day: an empty hotspot list is right
        else:
            expect_rows = n_jobs > 0 and not skipped_partial
        every = {
            "rows_out_of_range": out_of_range.get(day, 0),
            "duplicate_keys": dupes.get(day, 0),
            "reconcile_difference": 0.0 if skipped_partial else float(abs(mart_total - runs_total)),
            "empty_although_jobs_ran": int(expect_rows and n_rows == 0),
            "is_partial_wrong": wrong_partial.get(day, 0),
        }
        figures[day] = {"rows": n_rows, "jobs_that_day": n_jobs, **{k: every[k] for k in FIGURES if k in only}}
        day += timedelta(days=1)
    return figures


def check_day(con: duckdb.DuckDBPyConnection, table: str, day: date) -> dict[str, float]:
    """The check figures of ``table`` for ``day`` (all 0 means healthy)."""
    return check_days(con, table, day, day)[day]
