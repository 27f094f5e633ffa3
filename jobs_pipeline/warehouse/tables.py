"""``job_runs`` and ``marketplace_quality``, derived from ``job_events``.

``job_runs`` is the one place defining a job's final event (the last terminal event of its
highest attempt) and its UTC ``day`` (of its last event); everything downstream (this
module's ``marketplace_quality``, the marts) reads ``job_runs`` only. Rates are
record-weighted fractions in [0, 1]. Each table is rebuilt by one statement.
"""

import duckdb

from jobs_pipeline.warehouse.connection import scalar

JOB_RUNS_SQL = """
CREATE OR REPLACE TABLE job_runs AS
WITH ranked AS (
    SELECT *,
           row_number() OVER (
               PARTITION BY job_id
               ORDER BY (event_type IN ('job.completed', 'job.failed')) DESC, attempt DESC,
                        sequence DESC, ts DESC
           ) AS rn
    FROM job_events
),
agg AS (
    SELECT job_id, max(attempt) AS attempts, min(ts) AS first_event_at, max(ts) AS last_event_at,
           count(*) FILTER (WHERE event_type = 'job.retrying') AS retries
    FROM job_events GROUP BY job_id
)
SELECT r.job_id, r.task, r.marketplace, r.category, r.region, r.partition_key, r.tier, r.ruleset,
       CASE r.event_type WHEN 'job.completed' THEN 'completed'
                         WHEN 'job.failed' THEN 'failed'
                         WHEN 'job.retrying' THEN 'retrying'
                         ELSE 'running' END AS status,
       a.attempts, a.retries, a.first_event_at, a.last_event_at,
       CAST(timezone('UTC', a.last_event_at) AS DATE) AS day,  -- the UTC day, whatever the session zone
       coalesce(r.records_total, 0) AS records_total,
       coalesce(r.records_valid, 0) AS records_valid,
       coalesce(r.records_error, 0) AS records_error,
       coalesce(r.records_warning, 0) AS records_warning,
       r.payload_size_bytes, r.processing_time_ms, r.latency_ms,
       coalesce(r.error_rate, 0) AS error_rate, coalesce(r.warning_rate, 0) AS warning_rate,
       r.errors_by_field, r.metrics->'errors_by_rule' AS errors_by_rule,
       r.metrics->'sole_errors_by_rule' AS sole_errors_by_rule,  -- NULL before the validator counted it
       r.error_type, r.error_message
FROM ranked r JOIN agg a USING (job_id)
WHERE r.rn = 1
"""

#: The jobs that ended (``completed`` or ``failed``): what ``marketplace_quality`` and the marts count.
FINISHED_RUNS = "SELECT * FROM job_runs WHERE status IN ('completed', 'failed')"

MARKETPLACE_QUALITY_SQL = f"""
CREATE OR REPLACE TABLE marketplace_quality AS
SELECT marketplace, category, region,
       count(*) AS jobs,
       count(*) FILTER (WHERE status = 'completed') AS jobs_completed,
       count(*) FILTER (WHERE status = 'failed') AS jobs_failed,
       CAST(sum(records_total) AS BIGINT) AS records_total,
       CAST(sum(records_valid) AS BIGINT) AS records_valid,
       CAST(sum(records_error) AS BIGINT) AS records_error,
       CAST(sum(records_warning) AS BIGINT) AS records_warning,
       coalesce(sum(records_error) / nullif(sum(records_total), 0), 0) AS error_rate,
       coalesce(sum(records_warning) / nullif(sum(records_total), 0), 0) AS warning_rate
FROM ({FINISHED_RUNS})
GROUP BY ALL
ORDER BY marketplace, category, region
"""


def build_job_runs(con: duckdb.DuckDBPyConnection) -> int:
    con.execute(JOB_RUNS_SQL)
    return scalar(con, "SELECT count(*) FROM job_runs")


def build_marketplace_quality(con: duckdb.DuckDBPyConnection) -> int:
    con.execute(MARKETPLACE_QUALITY_SQL)
    return scalar(con, "SELECT count(*) FROM marketplace_quality")


def overall_error_rate(con: duckdb.DuckDBPyConnection, table: str = "marketplace_quality") -> float:
    return float(scalar(con, f"SELECT coalesce(sum(records_error) / nullif(sum(records_total), 0), 0) FROM {table}"))


def rates_out_of_range(con: duckdb.DuckDBPyConnection, table: str) -> int:
    return scalar(con, f"""SELECT count(*) FROM {table}
            WHERE error_rate NOT BETWEEN 0 AND 1 OR warning_rate NOT BETWEEN 0 AND 1""")


def inconsistent_job_runs(con: duckdb.DuckDBPyConnection) -> int:
    """Rows breaking the metrics invariants (valid + error <= total, one row per job)."""
    bad_counts = scalar(con, "SELECT count(*) FROM job_runs WHERE records_valid + records_error > records_total")
    dupes = scalar(con, "SELECT count(*) - count(DISTINCT job_id) FROM job_runs")
    return bad_counts + dupes
