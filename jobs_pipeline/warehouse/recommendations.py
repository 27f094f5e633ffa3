"""What to fix first: the ``quality_recommendations`` and ``latency_outliers`` daily marts.

The validator counts, per job and error rule, the records whose *only* failing error rule it
is (``sole_errors_by_rule``): fixing that rule alone makes exactly those records valid. Summed
per day and ``marketplace:category:region`` they rank the rules by what fixing each would
bring, beside the records each fails in all (``errors_by_rule``), the share of the key's feeds
it touches and its trend against the previous 7 days. ``latency_outliers`` names, per
marketplace and day, the regions whose p95 latency is furthest above the marketplace's.

Both read ``job_runs`` only (its finished jobs, :data:`FINISHED_RUNS`) and are refreshed one UTC
day at a time like the other marts (:func:`jobs_pipeline.warehouse.marts.refresh_day`).
Column meanings: docs/dashboards.md#what-to-fix-first-quality_recommendations.
"""

from datetime import date, timedelta

import duckdb

from jobs_pipeline.warehouse.connection import scalar
from jobs_pipeline.warehouse.marts import Mart, ensure_mart, refresh_day
from jobs_pipeline.warehouse.tables import FINISHED_RUNS

#: True while the row's UTC day had not ended when it was refreshed (today's partition).
_IS_PARTIAL = "$day >= $today"  # the marts' rule (warehouse.marts.refresh_days gives $today and $now)

QUALITY_RECOMMENDATIONS = Mart(
    table="quality_recommendations",
    comment="Per UTC day and marketplace, category and region: the error rules ranked by the "
            "error records fixing that rule alone would make valid (sole_errors), beside the "
            "records each fails in all, the share of feeds affected and the trend versus the "
            "previous 7 days (finished jobs).",
    key=("day", "marketplace", "category", "region", "rule"),
    ddl="""CREATE TABLE IF NOT EXISTS quality_recommendations (
        day DATE NOT NULL, marketplace VARCHAR NOT NULL, category VARCHAR NOT NULL,
        region VARCHAR NOT NULL, partition_key VARCHAR NOT NULL, rule VARCHAR NOT NULL,
        rank INTEGER NOT NULL, sole_errors BIGINT NOT NULL, errors BIGINT NOT NULL,
        records_total BIGINT NOT NULL, records_error BIGINT NOT NULL,
        error_rate DOUBLE NOT NULL, error_rate_if_fixed DOUBLE NOT NULL,
        feeds BIGINT NOT NULL, feeds_affected BIGINT NOT NULL, feeds_affected_share DOUBLE NOT NULL,
        feeds_unmeasured BIGINT NOT NULL,
        sole_errors_prev_7d BIGINT NOT NULL, avg_prev_7d DOUBLE NOT NULL, trend_vs_prev_7d DOUBLE,
        is_partial BOOLEAN NOT NULL, refreshed_at TIMESTAMPTZ NOT NULL)""",
    select_day=f"""
        WITH runs AS (SELECT day, marketplace, category, region, records_total, records_error,
                             errors_by_rule, sole_errors_by_rule
                      FROM ({FINISHED_RUNS}) WHERE day BETWEEN $day - INTERVAL 7 DAY AND $day),
        feeds AS (
            SELECT marketplace, category, region, count(*) AS feeds,
                   sum(records_total) AS records_total, sum(records_error) AS records_error,
                   count(*) FILTER (WHERE records_error > 0 AND sole_errors_by_rule IS NULL) AS unmeasured
            FROM runs WHERE day = $day GROUP BY ALL
        ),
        errs AS (
            SELECT marketplace, category, region, j.key AS rule, sum(CAST(j.value AS BIGINT)) AS errors,
                   count(*) FILTER (WHERE CAST(j.value AS BIGINT) > 0) AS feeds_affected
            FROM runs, json_each(runs.errors_by_rule) j WHERE day = $day
            GROUP BY ALL HAVING sum(CAST(j.value AS BIGINT)) > 0
        ),
        sole AS (
            SELECT marketplace, category, region, j.key AS rule,
                   sum(CAST(j.value AS BIGINT)) FILTER (WHERE day = $day) AS today,
                   sum(CAST(j.value AS BIGINT)) FILTER (WHERE day < $day) AS before
            FROM runs, json_each(runs.sole_errors_by_rule) j GROUP BY ALL
        )
        SELECT $day, e.marketplace, e.category, e.region,
               e.marketplace || ':' || e.category || ':' || e.region, e.rule,
               rank() OVER (PARTITION BY e.marketplace, e.category, e.region
                            ORDER BY coalesce(s.today, 0) DESC, e.errors DESC),
               coalesce(s.today, 0), e.errors, f.records_total, f.records_error,
               coalesce(f.records_error / nullif(f.records_total, 0), 0),
               coalesce(greatest(f.records_error - coalesce(s.today, 0), 0) / nullif(f.records_total, 0), 0),
               f.feeds, e.feeds_affected, e.feeds_affected / f.feeds, f.unmeasured,
               coalesce(s.before, 0), coalesce(s.before, 0) / 7.0,
               CASE WHEN coalesce(s.before, 0) = 0 THEN NULL
                    ELSE coalesce(s.today, 0) / (s.before / 7.0) - 1 END,
               {_IS_PARTIAL}, $now
        FROM errs e JOIN feeds f USING (marketplace, category, region)
        LEFT JOIN sole s USING (marketplace, category, region, rule)""",
)

LATENCY_OUTLIERS = Mart(
    table="latency_outliers",
    comment="Per UTC day and marketplace, each region's p95 latency_ms beside the marketplace's "
            "(all its regions), ranked by how far above it is (rank 1 = furthest above).",
    key=("day", "marketplace", "region"),
    ddl="""CREATE TABLE IF NOT EXISTS latency_outliers (
        day DATE NOT NULL, marketplace VARCHAR NOT NULL, region VARCHAR NOT NULL,
        jobs BIGINT NOT NULL, latency_p95_ms DOUBLE, marketplace_latency_p95_ms DOUBLE,
        excess_ms DOUBLE, excess_ratio DOUBLE, rank INTEGER NOT NULL,
        is_partial BOOLEAN NOT NULL, refreshed_at TIMESTAMPTZ NOT NULL)""",
    select_day=f"""
        WITH runs AS (SELECT marketplace, region, latency_ms FROM ({FINISHED_RUNS}) WHERE day = $day),
        by_region AS (SELECT marketplace, region, count(*) AS jobs, quantile_cont(latency_ms, 0.95) AS p95
                      FROM runs GROUP BY ALL),
        by_marketplace AS (SELECT marketplace, quantile_cont(latency_ms, 0.95) AS p95 FROM runs GROUP BY ALL)
        SELECT $day, r.marketplace, r.region, r.jobs, r.p95, m.p95, r.p95 - m.p95,
               CASE WHEN m.p95 > 0 THEN r.p95 / m.p95 END,
               rank() OVER (PARTITION BY r.marketplace ORDER BY r.p95 - m.p95 DESC NULLS LAST),
               {_IS_PARTIAL}, $now
        FROM by_region r JOIN by_marketplace m USING (marketplace)""",
)

RECOMMENDATION_MARTS: dict[str, Mart] = {m.table: m for m in (QUALITY_RECOMMENDATIONS, LATENCY_OUTLIERS)}


def ensure_recommendations(con: duckdb.DuckDBPyConnection) -> None:
    """Create both tables (empty) when absent: readers may query them before the first refresh."""
    for mart in RECOMMENDATION_MARTS.values():
        ensure_mart(con, mart)


def refresh_recommendations(con: duckdb.DuckDBPyConnection, day: date) -> dict[str, int]:
    """Replace ``day`` in both tables; their row counts for that day, by table."""
    return {name: refresh_day(con, mart, day) for name, mart in RECOMMENDATION_MARTS.items()}


def refresh_recommendation_days(con: duckdb.DuckDBPyConnection, start: date, end: date) -> dict[str, int]:
    """Replace the days ``start`` to ``end`` (inclusive) in both tables, a day per transaction
    (a day is independent of the others: the trend reads ``job_runs``, not the table); their
    row counts over those days, by table."""
    total = dict.fromkeys(RECOMMENDATION_MARTS, 0)
    day = start
    while day <= end:
        for name, rows in refresh_recommendations(con, day).items():
            total[name] += rows
        day += timedelta(days=1)
    return total


def check_figures(con: duckdb.DuckDBPyConnection, day: date) -> dict[str, int]:
    """The checks' figures for ``day`` (all 0 means healthy).

    ``duplicate_keys``: rows sharing their key, both tables. ``rows_out_of_range``: a rate or
    share outside [0, 1], more records fixed than in error or than the rule fails, fixing
    making things worse, more feeds affected than feeds. ``reconcile_difference``: feeds per
    key, records failing each rule and jobs per marketplace and region against ``job_runs``.
    """
    p = {"day": day}
    dupes = sum(scalar(con, f"""SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM {m.table}
                WHERE day = $day GROUP BY {", ".join(m.key)})""", p) for m in RECOMMENDATION_MARTS.values())
    out_of_range = scalar(con, """SELECT count(*) FROM quality_recommendations WHERE day = $day AND (
            error_rate NOT BETWEEN 0 AND 1 OR error_rate_if_fixed NOT BETWEEN 0 AND 1
            OR feeds_affected_share NOT BETWEEN 0 AND 1 OR error_rate_if_fixed > error_rate
            OR sole_errors > records_error OR errors > records_error OR feeds_affected > feeds
            OR rank < 1)""", p) + scalar(con, """SELECT count(*) FROM latency_outliers WHERE day = $day
            AND (excess_ratio < 0 OR rank < 1 OR jobs < 1)""", p)
    runs = f"SELECT * FROM ({FINISHED_RUNS}) WHERE day = $day"
    feeds = scalar(con, f"""SELECT coalesce(sum(abs(r.feeds - j.feeds)), 0) FROM
            (SELECT DISTINCT marketplace, category, region, feeds FROM quality_recommendations WHERE day = $day) r
            JOIN (SELECT marketplace, category, region, count(*) AS feeds FROM ({runs}) GROUP BY ALL) j
            USING (marketplace, category, region)""", p)
    errors = abs(scalar(con, "SELECT coalesce(sum(errors), 0) FROM quality_recommendations WHERE day = $day", p)
                 - scalar(con, f"SELECT coalesce(sum(CAST(j.value AS BIGINT)), 0) FROM ({runs}) r, "
                               "json_each(r.errors_by_rule) j", p))
    jobs = abs(scalar(con, "SELECT coalesce(sum(jobs), 0) FROM latency_outliers WHERE day = $day", p)
               - scalar(con, f"SELECT count(*) FROM ({runs})", p))
    return {"duplicate_keys": int(dupes), "rows_out_of_range": int(out_of_range),
            "reconcile_difference": int(feeds + errors + jobs)}


def summary(con: duckdb.DuckDBPyConnection, start: date, end: date | None = None) -> dict[str, float]:
    """Numeric figures of the days ``start`` to ``end`` (default: ``start`` alone) for the asset's
    metadata (stable keys, docs/dashboards.md)."""
    span = {"start": start, "end": end or start}
    where = "WHERE day BETWEEN $start AND $end"
    rules, keys, sole, top = con.execute(f"""
        SELECT count(*), count(DISTINCT partition_key), coalesce(sum(sole_errors), 0),
               coalesce(max(sole_errors), 0)
        FROM quality_recommendations {where}""", span).fetchall()[0]
    records_error, feeds_unmeasured = con.execute(f"""
        SELECT coalesce(sum(records_error), 0), coalesce(sum(feeds_unmeasured), 0) FROM (
            SELECT DISTINCT day, partition_key, records_error, feeds_unmeasured
            FROM quality_recommendations {where})""", span).fetchall()[0]
    regions, excess = con.execute(f"SELECT count(*), coalesce(max(excess_ms), 0) FROM latency_outliers {where}",
                                  span).fetchall()[0]
    return {
        "rules_ranked": int(rules), "partition_keys": int(keys),
        "sole_errors": int(sole), "records_error": int(records_error),
        "fixable_alone_share": float(sole / records_error) if records_error else 0.0,
        "top_rule_sole_errors": int(top), "feeds_unmeasured": int(feeds_unmeasured),
        "latency_regions": int(regions), "max_latency_excess_ms": float(excess),
    }
