"""Telemetry benchmark: hot-path cost per emitter, and ingestion rows/s into DuckDB.

    .venv/bin/python bench/telemetry_bench.py [--events 20000] [--ingest-events 200000]

Hot path = the time of one ``emitter.emit(event)`` call on the job's thread (the event is
already built). Targets (issue 5): median <= 50 us/event; ingestion >= 200k events/s.
Figures go to docs/benchmarks.md ("Telemetry").
"""

import argparse
import logging
import statistics
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from jobs_pipeline.jobs.model import JobContext, ValidationJob  # noqa: E402
from jobs_pipeline.telemetry.composite import CompositeTelemetryEmitter  # noqa: E402
from jobs_pipeline.telemetry.duckdb_emitter import DuckDBTelemetryEmitter  # noqa: E402
from jobs_pipeline.telemetry.events import EventType, make_event  # noqa: E402
from jobs_pipeline.telemetry.http import HTTPSinkConfig, HTTPTelemetryEmitter  # noqa: E402
from jobs_pipeline.telemetry.lake import LakeTelemetryEmitter  # noqa: E402
from jobs_pipeline.telemetry.log import LogTelemetryEmitter  # noqa: E402
from jobs_pipeline.telemetry.memory import InMemoryTelemetryEmitter  # noqa: E402
from jobs_pipeline.warehouse.connection import connect, scalar  # noqa: E402
from jobs_pipeline.warehouse.events import ingest_lake  # noqa: E402

T0 = datetime(2026, 11, 29, tzinfo=UTC)
TYPES = [EventType.STARTED, EventType.PROGRESS, EventType.COMPLETED]


def make_events(n: int, tag: str):
    out = []
    for i in range(n // 3 + 1):
        job = ValidationJob(job_id=uuid.uuid5(uuid.NAMESPACE_URL, f"{tag}{i}"), feed_uri="f",
                            context=JobContext(marketplace=("amazon", "shopee")[i % 2], category=f"c{i % 5}",
                                               region=("BR", "MX")[i % 2]))
        for seq, t in enumerate(TYPES):
            metrics = {"payload_size_bytes": 1000 + i, "records_total": 100, "records_valid": 95,
                       "records_error": 5, "records_warning": 0, "error_rate": 0.05, "warning_rate": 0.0,
                       "processing_time_ms": 12.5, "latency_ms": 40.0, "errors_by_field": {"price": 3, "gtin": 2}}
            out.append(make_event(job, t, attempt=1, sequence=seq, metrics=metrics,
                                  timestamp=T0 + timedelta(milliseconds=i)))
    return out[:n]


class _Sink(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()


def hot_path(name, emitter, events):
    times = []
    clock = time.perf_counter_ns
    start = clock()
    for e in events:
        t = clock()
        emitter.emit(e)
        times.append(clock() - t)
    total = clock() - start
    times.sort()
    row = {"emitter": name, "events": len(events), "median_us": statistics.median(times) / 1000,
           "p99_us": times[int(len(times) * 0.99)] / 1000, "mean_us": total / len(events) / 1000,
           "events_per_s": len(events) / (total / 1e9)}
    t = time.perf_counter()
    if hasattr(emitter, "drain"):
        emitter.drain(120)
    emitter.close()
    row["drain_close_s"] = time.perf_counter() - t
    return row


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=20_000)
    ap.add_argument("--ingest-events", type=int, default=200_000)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="telemetry-bench-"))
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/e"
    log = logging.getLogger("bench.events")
    log.addHandler(logging.FileHandler(tmp / "events.log"))
    log.setLevel(logging.INFO)
    log.propagate = False

    def http():
        return HTTPTelemetryEmitter(HTTPSinkConfig(url=url), spool_dir=tmp / "spool")

    builders = {
        "memory": lambda: InMemoryTelemetryEmitter(),
        "log": lambda: LogTelemetryEmitter(log=log),
        "lake": lambda: LakeTelemetryEmitter(tmp / "lake-hot"),
        "http": http,
        "duckdb": lambda: DuckDBTelemetryEmitter(tmp / "hot.duckdb"),
        "composite(log,lake,http)": lambda: CompositeTelemetryEmitter(
            [LogTelemetryEmitter(log=log), LakeTelemetryEmitter(tmp / "lake-comp"), http()]),
    }
    events = make_events(args.events, "hot")
    rows = [hot_path(name, build(), events) for name, build in builders.items()]
    print(f"hot path, {args.events} events per emitter (emit() call on the job's thread):")
    print("| emitter | median µs/event | p99 µs | mean µs | events/s (emit calls) | drain+close s |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['emitter']} | {r['median_us']:.2f} | {r['p99_us']:.1f} | {r['mean_us']:.2f} | "
              f"{r['events_per_s']:,.0f} | {r['drain_close_s']:.2f} |")

    # ingestion: lake files -> job_events, and the DuckDB emitter's Arrow batches
    big = make_events(args.ingest_events, "ing")
    lake = LakeTelemetryEmitter(tmp / "lake-ingest", fsync=False)
    for i, e in enumerate(big, 1):
        lake.emit(e)
        if i % 10_000 == 0:
            lake.flush()
    lake.close()
    with connect(tmp / "ingest.duckdb") as con:
        t = time.perf_counter()
        stats = ingest_lake(con, tmp / "lake-ingest")
        con.execute("CHECKPOINT")
        ingest_s = time.perf_counter() - t
        assert scalar(con, "SELECT count(*) FROM job_events") == len(big) == stats.events_inserted
        t = time.perf_counter()
        again = ingest_lake(con, tmp / "lake-ingest")
        noop_s = time.perf_counter() - t
    direct = DuckDBTelemetryEmitter(tmp / "direct.duckdb", batch_size=len(big) + 1)
    for e in big:
        direct.emit(e)
    t = time.perf_counter()
    direct.close()
    direct_s = time.perf_counter() - t
    assert direct.inserted == len(big) and again.events_inserted == 0
    print(f"\ningestion of {len(big)} events into DuckDB job_events:")
    print("| path | seconds | rows/s |")
    print("|---|---|---|")
    print(f"| lake JSONL files ({stats.files}) -> ingest_lake (+ CHECKPOINT) | {ingest_s:.2f} | {len(big) / ingest_s:,.0f} |")
    print(f"| DuckDB emitter, one Arrow batch (+ close) | {direct_s:.2f} | {len(big) / direct_s:,.0f} |")
    print(f"| ingest_lake again (nothing new) | {noop_s:.3f} | - |")
    server.shutdown()


if __name__ == "__main__":
    main()
