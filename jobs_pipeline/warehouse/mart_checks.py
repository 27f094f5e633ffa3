"""Data-quality checks of one day of a mart, as plain numbers (the asset checks wrap them).

For each mart and day: rows whose rates leave [0, 1], duplicate keys, the difference
between the mart's totals and ``job_runs`` (0 when they reconcile), and whether the mart is
empty although finished jobs ended that day. A check passes when every count is 0.
"""

from datetime import date

import duckdb

from jobs_pipeline.warehouse.connection import scalar
from jobs_pipeline.warehouse.marts import MARTS, finished_jobs_on
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

# (mart total, job_runs total) for the day; they must be equal.
_RECONCILE = {
    "marketplace_quality_daily": (
        "SELECT coalesce(sum(jobs), 0) * 1e6 + coalesce(sum(records_total), 0) + coalesce(sum(records_error), 0) "
        "FROM marketplace_quality_daily WHERE day = $day",
        f"SELECT count(*) * 1e6 + coalesce(sum(records_total), 0) + coalesce(sum(records_error), 0) "
        f"FROM ({FINISHED_RUNS}) WHERE day = $day",
    ),
    "field_error_hotspots": (
        "SELECT coalesce(sum(errors), 0) FROM field_error_hotspots WHERE day = $day AND kind = 'field'",
        f"SELECT coalesce(sum(CAST(j.value AS BIGINT)), 0) FROM ({FINISHED_RUNS}) r, json_each(r.errors_by_field) j "
        f"WHERE day = $day",
    ),
    "region_latency_daily": (
        "SELECT coalesce(sum(jobs), 0) FROM region_latency_daily WHERE day = $day AND marketplace = '(all)'",
        f"SELECT count(*) FROM ({FINISHED_RUNS}) WHERE day = $day",
    ),
    # Every partition key with finished jobs that day gets an error_rate verdict.
    "quality_anomaly_scores": (
        "SELECT count(*) FROM quality_anomaly_scores WHERE day = $day AND metric = 'error_rate'",
        f"SELECT count(DISTINCT partition_key) FROM ({FINISHED_RUNS}) WHERE day = $day",
    ),
}


def check_day(con: duckdb.DuckDBPyConnection, table: str, day: date) -> dict[str, float]:
    """The check figures of ``table`` for ``day`` (all 0 means healthy)."""
    p = {"day": day}
    rows = scalar(con, f"SELECT count(*) FROM {table} WHERE day = $day", p)
    jobs = finished_jobs_on(con, day)
    key = ", ".join(_KEYS[table])
    mart_total, runs_total = (scalar(con, q, p) for q in _RECONCILE[table])
    if table == "field_error_hotspots" and not runs_total:
        expect_rows = False  # no errors at all that day: an empty hotspot list is right
    else:
        expect_rows = jobs > 0
    return {
        "rows": rows,
        "jobs_that_day": jobs,
        "rows_out_of_range": scalar(con, f"SELECT count(*) FROM {table} WHERE day = $day AND ({_RATES[table]})", p),
        "duplicate_keys": scalar(con, f"SELECT count(*) - count(DISTINCT ({key})) FROM {table} WHERE day = $day", p),
        "reconcile_difference": float(abs((mart_total or 0) - (runs_total or 0))),
        "empty_although_jobs_ran": int(expect_rows and rows == 0),
    }
