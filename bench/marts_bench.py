"""The daily marts at 20k events a day: one partition per mart, and a 60-day backfill through Dagster.

    .venv/bin/python bench/marts_bench.py [--days 60] [--per-day 20000] [--rounds 5]

History is generated in SQL: ``--per-day`` events per UTC day (3 per job: started, progress,
completed; 1 job in 20 fails), 4 marketplaces x 5 categories x 6 regions, 4 fields and 4 rules
in each job's errors. Then:

1. ``job_runs`` rebuilt (whole table; its changed days and ``job_run_errors`` included), and
   rebuilt again with nothing new (the hourly case);
2. ``refresh_day`` of each mart for ``--rounds`` recent days (median, max): target <= 0.1 s;
   ``quality_anomalies``' own day (the detector, another module) measured beside them;
3. the backfill: ``marts_job``'s marts with all their checks over the whole range, one
   ``dg.materialize`` on a real (temporary) Dagster instance with a partition-key range
   (``BackfillPolicy.single_run``): target <= 60 s. ``quality_anomalies`` and
   ``quality_recommendations`` are in the same run (``quality_anomalies`` only when it takes
   ranges; otherwise its days are timed separately, one run per day).

Figures go to docs/benchmarks.md ("Marts at 20k events a day").
"""

import argparse
import statistics
import sys
import tempfile
import time
import warnings
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import dagster as dg  # noqa: E402

from jobs_pipeline.warehouse import anomalies, marts, recommendations  # noqa: E402
from jobs_pipeline.warehouse.connection import connect, scalar  # noqa: E402
from jobs_pipeline.warehouse.events import ensure_schema  # noqa: E402
from jobs_pipeline.warehouse.tables import refresh_job_runs  # noqa: E402

warnings.filterwarnings("ignore", category=dg.BetaWarning)
warnings.filterwarnings("ignore", category=dg.PreviewWarning)

#: ``n`` events from ``start``, ``per_day`` a day; job j = events 3j..3j+2.
EVENTS_SQL = """
INSERT INTO job_events BY NAME
WITH e AS (SELECT i, i // 3 AS j, i % 3 AS k,
                  TIMESTAMPTZ '{start} 00:00:00+00' + to_microseconds((i // 3) * 3 * (86400000000 // {per_day}))
                      + to_microseconds((i % 3) * 1000000) AS ts
           FROM range({n}) r(i)),
f AS (SELECT *, j % 20 = 7 AS fails, 100 + (j * 37) % 400 AS total, (j * 13) % 23 AS err,
             ['amazon', 'shopee', 'mercadolibre', 'walmart'][1 + j % 4] AS mkt,
             'c' || ((j // 4) % 5) AS cat, ['BR', 'MX', 'US', 'AR', 'CL', 'CO'][1 + (j // 20) % 6] AS reg
      FROM e)
SELECT md5(i::VARCHAR || 'e')::UUID AS event_id,
       CASE k WHEN 0 THEN 'job.started' WHEN 1 THEN 'job.progress'
              ELSE CASE WHEN fails THEN 'job.failed' ELSE 'job.completed' END END AS event_type,
       md5(j::VARCHAR || 'j')::UUID AS job_id, 'validate_feed' AS task, ts,
       mkt AS marketplace, cat AS category, reg AS region, mkt || ':' || cat || ':' || reg AS partition_key,
       1 AS attempt, k AS sequence, mkt || '@' || (1 + j % 2) AS ruleset, 'free' AS tier,
       CASE WHEN k = 2 AND NOT fails THEN total END AS records_total,
       CASE WHEN k = 2 AND NOT fails THEN total - err END AS records_valid,
       CASE WHEN k = 2 AND NOT fails THEN err END AS records_error,
       CASE WHEN k = 2 AND NOT fails THEN 2 END AS records_warning,
       CASE WHEN k = 2 THEN total * 300 END AS payload_size_bytes,
       CASE WHEN k = 2 THEN 10.0 + (j * 7) % 500 END AS processing_time_ms,
       CASE WHEN k = 2 THEN 30.0 + (j * 11) % 900 END AS latency_ms,
       CASE WHEN k = 2 AND NOT fails THEN err / total END AS error_rate,
       CASE WHEN k = 2 AND NOT fails THEN 2 / total END AS warning_rate,
       CASE WHEN k = 2 AND NOT fails THEN json_object('price', err // 2, 'gtin', err // 4, 'title', err // 8,
            'image_url', err - err // 2 - err // 4 - err // 8) END AS errors_by_field,
       CASE WHEN fails AND k = 2 THEN 'SchemaError' END AS error_type,
       CASE WHEN fails AND k = 2 THEN 'bad header' END AS error_message,
       CASE WHEN fails AND k = 2 THEN 'permanent' END AS error_classification,
       CAST(NULL AS DOUBLE) AS retry_delay_s,
       CASE WHEN k = 2 AND NOT fails THEN json_object('records_total', total, 'errors_by_rule',
            json_object('price_positive', err // 2, 'gtin_checksum', err // 4, 'title_length', err // 8,
                        'image_https', err - err // 2 - err // 4 - err // 8))
            ELSE '{{}}' END AS metrics,
       'bench' AS source_file, now() AS ingested_at
FROM f
"""


def build(path: Path, start: date, days: int, per_day: int) -> int:
    with connect(path) as con:
        ensure_schema(con)
        con.execute(EVENTS_SQL.format(start=start.isoformat(), per_day=per_day, n=days * per_day))
        con.execute("CHECKPOINT")
        return scalar(con, "SELECT count(*) FROM job_events")


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--per-day", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    last = datetime.now(UTC).date() - timedelta(days=2)  # every day of the backfill has ended
    start = last - timedelta(days=args.days - 1)
    with tempfile.TemporaryDirectory(prefix="marts-bench-") as tmp:
        path = Path(tmp) / "quality.duckdb"
        t = time.perf_counter()
        events = build(path, start, args.days, args.per_day)
        print(f"{events:,} events over {args.days} days ({args.per_day:,}/day) generated in "
              f"{time.perf_counter() - t:.1f} s")

        with connect(path) as con:
            first = _timed(lambda: refresh_job_runs(con))
            again = _timed(lambda: refresh_job_runs(con))
            jobs = scalar(con, "SELECT count(*) FROM job_runs")
            print(f"job_runs: {jobs:,} jobs; first build {first:.2f} s, rebuild with nothing new {again:.2f} s")
            for mart in marts.MARTS.values():  # the days before the timed ones (hot spots' trend)
                marts.refresh_days(con, mart, start, last)
            days = [last - timedelta(days=i) for i in range(args.rounds)]
            print(f"\nrefresh_day, {args.rounds} recent days (median / max, s):")
            for name, mart in marts.MARTS.items():
                times = [_timed(lambda d=d: marts.refresh_day(con, mart, d)) for d in days]
                print(f"  {name:28} {statistics.median(times):.3f} / {max(times):.3f}")
            times = [_timed(lambda d=d: anomalies.refresh_day(con, d)) for d in days]
            print(f"  {'quality_anomalies (detector)':28} {statistics.median(times):.3f} / {max(times):.3f}")
            times = [_timed(lambda d=d: recommendations.refresh_recommendations(con, d)) for d in days]
            print(f"  {'quality_recommendations':28} {statistics.median(times):.3f} / {max(times):.3f}")
            for mart in marts.MARTS.values():  # empty again: the backfill writes them
                con.execute(f"DELETE FROM {mart.table}")
            con.execute("DELETE FROM quality_anomaly_scores")
            con.execute("DELETE FROM quality_recommendations")
            con.execute("DELETE FROM latency_outliers")
            con.execute("CHECKPOINT")

        backfill(path, start, last)


def backfill(path: Path, start: date, last: date) -> None:
    from jobs_pipeline.defs.quality import marts as mart_defs
    from jobs_pipeline.defs.quality.late_days import _takes_ranges
    from jobs_pipeline.defs.resources.warehouse import DuckDBWarehouseResource

    resources = {"warehouse": DuckDBWarehouseResource(path=str(path), lake_dir=str(path.parent / "lake"))}
    selection = [mart_defs.marketplace_quality_daily, mart_defs.field_error_hotspots, mart_defs.region_latency_daily]
    in_run = _takes_ranges(mart_defs.quality_anomalies)
    if in_run:
        selection.append(mart_defs.quality_anomalies)
    selection.append(mart_defs.quality_recommendations)  # in marts_job too (a range in one run)
    tags = {"dagster/asset_partition_range_start": start.isoformat(),
            "dagster/asset_partition_range_end": last.isoformat()}
    quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    n = (last - start).days + 1
    with dg.instance_for_test() as instance:
        t = time.perf_counter()
        result = dg.materialize([*selection, *mart_defs.mart_checks, *mart_defs.recommendation_checks],
                                selection=selection, tags=tags,
                                instance=instance, resources=resources, run_config=quiet)
        seconds = time.perf_counter() - t
        checks = result.get_asset_check_evaluations()
        names = ", ".join(a.key.to_user_string() for a in selection)
        print(f"\nbackfill of {n} days through Dagster, one run ({names} + {len(checks)} checks): "
              f"{seconds:.1f} s, success={result.success}, checks passed {sum(c.passed for c in checks)}/{len(checks)}")
        steps = sorted(((s.end_time or 0) - (s.start_time or 0), s.step_key)
                       for s in instance.get_run_step_stats(result.run_id))
        print("  slowest steps (s): " + ", ".join(f"{k} {d:.1f}" for d, k in reversed(steps[-6:])))
        print(f"  all {len(steps)} steps: {sum(d for d, _ in steps):.1f} s; the rest is Dagster's run set-up")
        if not in_run:
            days = [start + timedelta(days=i) for i in range(n)][-7:]
            t = time.perf_counter()
            for d in days:
                dg.materialize([mart_defs.quality_anomalies], partition_key=d.isoformat(), instance=instance,
                               resources=resources, run_config=quiet)
            per = (time.perf_counter() - t) / len(days)
            print(f"quality_anomalies takes no ranges yet: {per:.2f} s per day-run through Dagster "
                  f"(x {n} days = {per * n:.0f} s more)")


if __name__ == "__main__":
    main()
