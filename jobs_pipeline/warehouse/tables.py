"""``job_runs`` and ``marketplace_quality``, derived from ``job_events``.

``job_runs`` is the one place defining a job's final event and its UTC ``day`` (of its last
event); everything downstream (this module's ``marketplace_quality``, the marts) reads
``job_runs`` only. Rates are record-weighted fractions in [0, 1].

The final event is the latest event of the job's **highest attempt**, a terminal one
(``job.completed``/``job.failed``) first. So a job whose attempt 1 failed and whose attempt 2
started but has not ended is ``running`` (or ``retrying`` when that attempt's last event says
so), not ``failed``: it has not finished, and the marts count it on the day it ends.

Each rebuild of ``job_runs`` also says which UTC days of its *finished* rows changed
(:func:`refresh_job_runs`): a fingerprint per day (``job_runs_days``) is compared with the
previous build's, so a late event that finishes a job, moves it to another day or changes its
numbers names exactly the days whose marts must be rebuilt. The same days of
``job_run_errors`` (errors by field and rule, one row per finished job and name: the hot spots
read it instead of exploding JSON) are rewritten then.
"""

from dataclasses import dataclass
from datetime import date

import duckdb

from jobs_pipeline.warehouse.connection import scalar, transaction

JOB_RUNS_SQL = """
CREATE OR REPLACE TABLE job_runs AS
WITH ranked AS (
    SELECT *,
           row_number() OVER (
               PARTITION BY job_id
               ORDER BY attempt DESC, (event_type IN ('job.completed', 'job.failed')) DESC,
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


#: One fingerprint per UTC day of the finished rows of ``job_runs`` (all their columns).
_DAY_FINGERPRINTS = f"""
SELECT day, count(*) AS jobs, bit_xor(hash(r)) AS fingerprint
FROM ({FINISHED_RUNS}) r GROUP BY day
"""

_DAYS_DDL = "CREATE TABLE IF NOT EXISTS job_runs_days (day DATE PRIMARY KEY, jobs BIGINT NOT NULL, fingerprint UBIGINT NOT NULL)"

_ERRORS_DDL = """CREATE TABLE IF NOT EXISTS job_run_errors (
    day DATE NOT NULL, job_id VARCHAR NOT NULL, marketplace VARCHAR, category VARCHAR, region VARCHAR,
    ruleset VARCHAR NOT NULL, kind VARCHAR NOT NULL, name VARCHAR NOT NULL, n BIGINT NOT NULL)"""

#: Errors by field (``kind='field'``) and by rule (``kind='rule'``) of the finished jobs of some days.
_ERRORS_OF_DAYS = f"""
WITH runs AS (SELECT day, CAST(job_id AS VARCHAR) AS job_id, marketplace, category, region,
                     coalesce(ruleset, 'default') AS ruleset, errors_by_field, errors_by_rule
              FROM ({FINISHED_RUNS}) WHERE day IN (SELECT unnest($days)))
SELECT day, job_id, marketplace, category, region, ruleset, 'field', j.key, CAST(j.value AS BIGINT)
FROM runs, json_each(runs.errors_by_field) j
UNION ALL
SELECT day, job_id, marketplace, category, region, ruleset, 'rule', j.key, CAST(j.value AS BIGINT)
FROM runs, json_each(runs.errors_by_rule) j
"""


@dataclass(frozen=True)
class JobRunsRefresh:
    """A rebuild of ``job_runs``: its row count and the UTC days whose finished rows changed."""

    rows: int
    changed_days: list[date]


def _exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    return bool(scalar(con, "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
                            "AND schema_name = 'main' AND table_name = $t", {"t": table}))


def refresh_job_runs(con: duckdb.DuckDBPyConnection) -> JobRunsRefresh:
    """Rebuild ``job_runs`` and say which days changed (every day on a first build).

    A day changed when its finished rows differ in any column from the previous build (a job
    finished, moved in or out of the day, or changed numbers). One transaction: a failure
    leaves the previous ``job_runs``, fingerprints and error rows together."""
    known = _exists(con, "job_runs_days") and _exists(con, "job_run_errors")
    with transaction(con):
        con.execute(JOB_RUNS_SQL)
        con.execute(_DAYS_DDL)
        con.execute(_ERRORS_DDL)
        con.execute(f"CREATE OR REPLACE TEMP TABLE job_runs_days_new AS {_DAY_FINGERPRINTS}")
        if known:
            changed = [d for (d,) in con.execute(
                "SELECT coalesce(n.day, o.day) FROM job_runs_days_new n FULL JOIN job_runs_days o USING (day) "
                "WHERE n.fingerprint IS DISTINCT FROM o.fingerprint OR n.jobs IS DISTINCT FROM o.jobs "
                "ORDER BY 1").fetchall()]
            con.execute("DELETE FROM job_run_errors WHERE day IN (SELECT unnest($days))", {"days": changed})
        else:
            changed = [d for (d,) in con.execute("SELECT day FROM job_runs_days_new ORDER BY day").fetchall()]
            con.execute("DELETE FROM job_run_errors")
        if changed:
            con.execute(f"INSERT INTO job_run_errors {_ERRORS_OF_DAYS}", {"days": changed})
        con.execute("DELETE FROM job_runs_days")
        con.execute("INSERT INTO job_runs_days SELECT * FROM job_runs_days_new")
        con.execute("DROP TABLE job_runs_days_new")
    return JobRunsRefresh(rows=scalar(con, "SELECT count(*) FROM job_runs"), changed_days=changed)


def build_job_runs(con: duckdb.DuckDBPyConnection) -> int:
    """Rebuild ``job_runs`` (see :func:`refresh_job_runs`); return its row count."""
    return refresh_job_runs(con).rows


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
