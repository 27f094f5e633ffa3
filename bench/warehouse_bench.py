"""Warehouse as history grows: ingest cost vs table size, and one mart day over 10M events.

    .venv/bin/python bench/warehouse_bench.py [--sizes 0,10000000,50000000] [--events 100000]
        [--rounds 5] [--mart-events 10000000]

History is generated in SQL (100k events per UTC day, chronological, like hourly lake files);
the new events are lake files of the newest day. Each round ingests them into every size in
turn (interleaved, so load from other processes hits every size), then deletes them again.
Targets: 50M-row ingest <= 1.2x the empty-table time (medians); each mart day < 1 s.
Figures go to docs/benchmarks.md ("Warehouse history").
"""

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from telemetry_bench import make_events  # noqa: E402

from jobs_pipeline.telemetry.lake import PART_GLOB, LakeTelemetryEmitter  # noqa: E402
from jobs_pipeline.warehouse import marts  # noqa: E402
from jobs_pipeline.warehouse.connection import connect, scalar  # noqa: E402
from jobs_pipeline.warehouse.events import ensure_schema, ingest_files  # noqa: E402
from jobs_pipeline.warehouse.tables import build_job_runs  # noqa: E402

PER_DAY = 100_000
NEWEST = date(2026, 11, 29)  # make_events' day

#: ``n`` events ending the day before NEWEST, PER_DAY per day, 3 per job (started/progress/completed).
HISTORY_SQL = """INSERT INTO job_events
SELECT md5(i::VARCHAR || 'e')::UUID, ['job.started', 'job.progress', 'job.completed'][1 + i % 3],
       md5((i // 3)::VARCHAR || 'j')::UUID, 'validate_feed',
       TIMESTAMPTZ '{start} 00:00:00+00' + to_microseconds(i * (86400000000 // {per_day})),
       ['amazon', 'shopee', 'mercadolibre'][1 + (i // 3) % 3], 'c' || ((i // 3) % 5), ['BR', 'MX'][1 + (i // 3) % 2],
       ['amazon', 'shopee', 'mercadolibre'][1 + (i // 3) % 3] || ':c' || ((i // 3) % 5) || ':' || ['BR', 'MX'][1 + (i // 3) % 2],
       1, i % 3, NULL, 'free', 100, 95 - (i % 7), 5 + (i % 7), 0, 1000 + i % 1000,
       10.0 + (i % 97), 30.0 + (i % 89), (5 + (i % 7)) / 100.0, 0.0,
       '{{"price": 3, "gtin": 2}}', NULL, NULL, NULL, NULL,
       '{{"records_total": 100, "errors_by_rule": {{"price_positive": 3}}}}', 'history', now()
FROM range({n}) r(i)"""


def build(path: Path, n: int) -> None:
    start = NEWEST - timedelta(days=-(-n // PER_DAY))
    with connect(path) as con:
        ensure_schema(con)
        if n:
            con.execute(HISTORY_SQL.format(start=start.isoformat(), per_day=PER_DAY, n=n))
        con.execute("CHECKPOINT")


def timed_ingest(path: Path, files: list[str]) -> float:
    with connect(path) as con:
        last = scalar(con, "SELECT coalesce(max(rowid), -1) FROM job_events")
        t = time.perf_counter()
        stats = ingest_files(con, files)
        con.execute("CHECKPOINT")
        seconds = time.perf_counter() - t
        assert stats.events_inserted == stats.events_read, stats
        con.execute("DELETE FROM job_events WHERE rowid > $last", {"last": last})
        con.execute("DELETE FROM lake_files")
        con.execute("CHECKPOINT")
    return seconds


def mart_days(path: Path) -> dict[str, list[float]]:
    """Seconds of refresh_day per mart, for the 3 newest full days."""
    out: dict[str, list[float]] = {}
    with connect(path) as con:
        t = time.perf_counter()
        build_job_runs(con)
        out["job_runs (whole table)"] = [time.perf_counter() - t]
        for offset in (1, 2, 3):
            day = NEWEST - timedelta(days=offset)
            for mart in marts.MARTS.values():
                t = time.perf_counter()
                marts.refresh_day(con, mart, day)
                out.setdefault(mart.table, []).append(time.perf_counter() - t)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="0,10000000,50000000")
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--mart-events", type=int, default=10_000_000)
    ap.add_argument("--dir", default=None, help="work folder (default: a new temporary one)")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    tmp = Path(args.dir or tempfile.mkdtemp(prefix="warehouse-bench-"))
    tmp.mkdir(parents=True, exist_ok=True)
    print(f"load average at start: {os.getloadavg()[0]:.1f} ({os.cpu_count()} cores); folder {tmp}")
    shutil.rmtree(tmp / "lake", ignore_errors=True)  # a reused folder: the same files again
    lake = LakeTelemetryEmitter(tmp / "lake", fsync=False)
    for i, e in enumerate(make_events(args.events, "new"), 1):
        lake.emit(e)
        if i % 10_000 == 0:  # a new writer per 10k events: 10 files, as before the lake appended
            lake.close()
            lake = LakeTelemetryEmitter(tmp / "lake", fsync=False)
    lake.close()
    files = sorted(str(p) for p in (tmp / "lake").glob(PART_GLOB))
    paths = {}
    for n in sizes:
        paths[n] = tmp / f"h{n}.duckdb"
        if not paths[n].exists():
            t = time.perf_counter()
            build(paths[n], n)
            print(f"built {n:,} rows in {time.perf_counter() - t:.0f} s")
        with connect(paths[n]) as con:  # leftovers of an interrupted earlier run
            con.execute("DELETE FROM job_events WHERE source_file <> 'history'")
            con.execute("DELETE FROM lake_files")
            con.execute("CHECKPOINT")
    runs: dict[int, list[float]] = {n: [] for n in sizes}
    for r in range(args.rounds):
        for n in sizes:
            runs[n].append(timed_ingest(paths[n], files))
        print(f"round {r + 1}: " + ", ".join(f"{n:,}: {runs[n][-1]:.2f} s" for n in sizes), flush=True)
    base = statistics.median(runs[sizes[0]])
    print(f"\n{args.events:,} new events ({len(files)} lake files) + CHECKPOINT, {args.rounds} rounds interleaved:")
    print("| job_events before | median s | min s | max s | median / first size |")
    print("|---|---|---|---|---|")
    for n in sizes:
        med = statistics.median(runs[n])
        print(f"| {n:,} | {med:.2f} | {min(runs[n]):.2f} | {max(runs[n]):.2f} | {med / base:.2f}x |")
    if args.mart_events:
        path = tmp / f"h{args.mart_events}.duckdb"
        if not path.exists():
            build(path, args.mart_events)
        times = mart_days(path)
        print(f"\nmarts over {args.mart_events:,} events ({PER_DAY:,} per day), refresh_day of 3 days:")
        print("| step | median s | max s |")
        print("|---|---|---|")
        for name, secs in times.items():
            print(f"| {name} | {statistics.median(secs):.3f} | {max(secs):.3f} |")
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
