"""Lake ingestion speed: 20,000 jobs' events, as the real lake emitter writes them.

    .venv/bin/python bench/lake_ingest_bench.py [--jobs 20000] [--writers 4] [--rounds 3] [--fsync]

``--writers`` processes (worker processes) each run their share of the jobs through a
``LakeTelemetryEmitter`` and flush after every job, as ``JobService`` does: started, 1-3
progress events, completed (every 12th job failed; every 10th first retried, attempt 2
following), completed metrics shaped like ``ValidationMetrics`` (per-field and per-rule maps);
2 % of the jobs are redelivered to another writer and emit all their events again (same ids).
Jobs spread over two UTC days, so each writer has two files. For comparison the same events
are also written in the previous layout, one file per flush (per job attempt).

Each round ingests each lake into an empty DuckDB file with one ``ingest_lake`` call (fresh
databases, layouts alternating). Target: >= 100k events/s for the rolling lake.
Figures go to docs/benchmarks.md ("Lake ingestion").
"""

import argparse
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from jobs_pipeline.domain.model import JobContext, ValidationJob  # noqa: E402
from jobs_pipeline.telemetry.events import ErrorInfo, EventType, make_event  # noqa: E402
from jobs_pipeline.telemetry.lake import PART_GLOB, LakeTelemetryEmitter, lake_line  # noqa: E402
from jobs_pipeline.warehouse.connection import connect, scalar  # noqa: E402
from jobs_pipeline.warehouse.events import duplicate_event_ids, ingest_lake  # noqa: E402

MARKETPLACES = ("amazon", "shopee", "mercado_livre", "google_merchant")
REGIONS = ("BR", "MX", "US", "AR", "CL", "CO")
FIELDS = ("price", "gtin", "title", "brand", "image_link", "availability", "description", "condition")
RULES = ("price_positive", "gtin_checksum", "title_length", "brand_required", "image_https", "availability_enum")
T0 = datetime(2026, 11, 28, 0, 0, tzinfo=UTC)
SOURCE = "urn:jobs-pipeline:bench:worker"


def job_events(i: int, jobs: int) -> list[list]:
    """The events of job ``i``, one list per attempt (each attempt ends with a flush)."""
    job = ValidationJob(job_id=uuid.uuid5(uuid.NAMESPACE_URL, f"bench-job-{i}"), feed_uri=f"s3://feeds/{i}.csv",
                        context=JobContext(marketplace=MARKETPLACES[i % 4], category=f"cat{i % 5}",
                                           region=REGIONS[(i // 4) % 6]))
    ts = T0 + timedelta(seconds=i * 172_800 / jobs)
    total = 5_000 + (i * 37) % 50_000
    attempts, attempt = [], 1
    if i % 10 == 0:
        error = ErrorInfo(error_type="TransientIOError", message="connection reset by peer",
                          classification="transient", delay_s=1.5)
        attempts.append([make_event(job, EventType.STARTED, attempt=1, sequence=0,
                                    metrics={"payload_size_bytes": total * 180}, timestamp=ts),
                         make_event(job, EventType.RETRYING, attempt=1, sequence=1, error=error, timestamp=ts,
                                    metrics={"payload_size_bytes": total * 180, "processing_time_ms": 210.0})])
        attempt, ts = 2, ts + timedelta(seconds=2)
    events = [make_event(job, EventType.STARTED, attempt=attempt, sequence=0,
                         metrics={"payload_size_bytes": total * 180}, timestamp=ts)]
    for k in range(1 + i % 3):
        events.append(make_event(job, EventType.PROGRESS, attempt=attempt, sequence=1 + k, timestamp=ts,
                                 metrics={"payload_size_bytes": total * 180, "records_processed": (k + 1) * 1000,
                                          "processing_time_ms": 100.0 * (k + 1)}))
    seq = len(events)
    if i % 12 == 0:
        error = ErrorInfo(error_type="FeedFormatError", message="unexpected column count on line 1",
                          classification="permanent")
        events.append(make_event(job, EventType.FAILED, attempt=attempt, sequence=seq, error=error, timestamp=ts,
                                 metrics={"payload_size_bytes": total * 180, "processing_time_ms": 45.0}))
    else:
        bad = (i * 13) % (total // 10)
        by_field = {f: bad // (n + 2) for n, f in enumerate(FIELDS[:3 + i % 6])}
        by_rule = {r: bad // (n + 2) for n, r in enumerate(RULES[:2 + i % 5])}
        metrics = {"payload_size_bytes": total * 180, "records_total": total, "records_valid": total - bad,
                   "records_error": bad, "records_warning": bad // 3, "errors_by_field": by_field,
                   "warnings_by_field": {"description": bad // 3}, "errors_by_rule": by_rule,
                   "sole_errors_by_rule": {RULES[0]: bad // 4},
                   "processing_time_ms": 400.0 + i % 900, "latency_ms": 1500.0 + i % 4000,
                   "error_rate": bad / total, "warning_rate": (bad // 3) / total,
                   "marketplace": job.context.marketplace, "category": job.context.category,
                   "region": job.context.region, "ruleset": "default@3", "tier": "free", "feed_format": "csv",
                   "encoding": "utf-8", "error_report_uri": f"s3://reports/{job.job_id}.parquet"}
        events.append(make_event(job, EventType.COMPLETED, attempt=attempt, sequence=seq, metrics=metrics,
                                 ruleset="default@3", timestamp=ts))
    attempts.append(events)
    return attempts


def _jobs_of(worker: int, writers: int, jobs: int) -> list[int]:
    mine = [i for i in range(jobs) if i % writers == worker]
    redelivered = [i for i in range(jobs) if i % 50 == 7 and i % writers == (worker + 1) % writers]
    return mine + redelivered


def _write(root: str, worker: int, writers: int, jobs: int, fsync: bool, layout: str) -> None:
    if layout == "rolling":
        emitter = LakeTelemetryEmitter(root, fsync=fsync, source=SOURCE)
        for i in _jobs_of(worker, writers, jobs):
            for attempt in job_events(i, jobs):
                for event in attempt:
                    emitter.emit(event)
                emitter.flush()  # JobService flushes at the end of every job attempt
        emitter.close()
        return
    n = 0  # the previous layout: one file per flush (per attempt)
    for i in _jobs_of(worker, writers, jobs):
        for attempt in job_events(i, jobs):
            day = attempt[0].timestamp.strftime("%Y-%m-%d")
            folder = Path(root) / f"date={day}"
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"part-w{worker}-{os.getpid()}-{n:06d}.jsonl"
            path.write_text("".join(lake_line(e, SOURCE) + "\n" for e in attempt))
            n += 1


def write_lake(root: Path, *, jobs: int, writers: int, fsync: bool, layout: str) -> float:
    ctx = mp.get_context("spawn")
    t = time.perf_counter()
    procs = [ctx.Process(target=_write, args=(str(root), w, writers, jobs, fsync, layout)) for w in range(writers)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
        if p.exitcode:
            raise SystemExit(f"writer exited with {p.exitcode}")
    return time.perf_counter() - t


def timed_ingest(lake: Path, db: Path) -> tuple[float, float, object, int]:
    """Wall and CPU seconds (this process: Python and DuckDB's threads) of one ``ingest_lake``."""
    db.unlink(missing_ok=True)
    with connect(db) as con:
        t, c = time.perf_counter(), time.process_time()
        stats = ingest_lake(con, lake)
        elapsed, cpu = time.perf_counter() - t, time.process_time() - c
        rows = scalar(con, "SELECT count(*) FROM job_events")
        assert duplicate_event_ids(con) == 0 and rows == stats.events_inserted
    db.unlink()
    return elapsed, cpu, stats, rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=20_000)
    ap.add_argument("--writers", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--fsync", action="store_true", help="fsync every flush while writing (as in production)")
    ap.add_argument("--layouts", default="rolling,per-flush")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="lake-ingest-bench-"))
    print(f"load average at start: {os.getloadavg()[0]:.1f} ({os.cpu_count()} cores); folder {tmp}")
    layouts = args.layouts.split(",")
    lakes = {}
    for layout in layouts:
        lakes[layout] = tmp / layout
        s = write_lake(lakes[layout], jobs=args.jobs, writers=args.writers, fsync=args.fsync, layout=layout)
        files = list(lakes[layout].glob(PART_GLOB))
        size = sum(f.stat().st_size for f in files)
        print(f"{layout}: wrote {len(files):,} files, {size / 1e6:.1f} MB in {s:.1f} s", flush=True)
    runs: dict[str, list[float]] = {layout: [] for layout in layouts}
    cpus: dict[str, list[float]] = {layout: [] for layout in layouts}
    stats = {}
    for r in range(args.rounds):
        for layout in layouts:
            elapsed, cpu, stats[layout], rows = timed_ingest(lakes[layout], tmp / f"{layout}.duckdb")
            runs[layout].append(elapsed)
            cpus[layout].append(cpu)
            print(f"round {r + 1} {layout}: {stats[layout].events_read:,} events read, {rows:,} rows, "
                  f"{elapsed:.2f} s ({cpu:.2f} s CPU), load {os.getloadavg()[0]:.1f}", flush=True)
    print(f"\n{args.jobs:,} jobs, {args.writers} writers, one ingest_lake into an empty table, "
          f"{args.rounds} rounds (load average now {os.getloadavg()[0]:.1f}):")
    print("| lake layout | files | events read | rows | median s | min s | events/s (median) | events/s (best) "
          "| CPU s (median) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for layout in layouts:
        med, best = statistics.median(runs[layout]), min(runs[layout])
        st = stats[layout]
        print(f"| {layout} | {st.files:,} | {st.events_read:,} | {st.events_inserted:,} | {med:.2f} | {best:.2f} | "
              f"{st.events_read / med:,.0f} | {st.events_read / best:,.0f} | {statistics.median(cpus[layout]):.2f} |")


if __name__ == "__main__":
    main()
