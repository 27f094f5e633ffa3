"""Telemetry benchmark: hot-path cost per emitter, and ingestion rows/s into DuckDB.

    .venv/bin/python bench/telemetry_bench.py [--events 20000] [--ingest-events 200000]
        [--repeat 3] [--preload 1000000]

Hot path = the time of one ``emitter.emit(event)`` call on the job's thread (the event is
already built). Targets: median <= 50 us/event; ingestion >= 200k events/s.
Ingestion runs the current ``ingest_lake`` and, for comparison in the same run, schema 1
(``event_id PRIMARY KEY``, staged temp table, window de-dup; frozen below as
``schema1_ingest_files``), alternately, ``--repeat`` times each, into an empty table and into
one already holding ``--preload`` rows. Figures go to docs/benchmarks.md ("Telemetry").
"""

import argparse
import logging
import os
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

from jobs_pipeline.domain.model import JobContext, ValidationJob  # noqa: E402
from jobs_pipeline.telemetry.composite import CompositeTelemetryEmitter  # noqa: E402
from jobs_pipeline.warehouse.duckdb_sink import DuckDBTelemetryEmitter, insert_events  # noqa: E402
from jobs_pipeline.telemetry.events import EventType, make_event  # noqa: E402
from jobs_pipeline.telemetry.http import HTTPSinkConfig, HTTPTelemetryEmitter  # noqa: E402
from jobs_pipeline.telemetry.lake import LakeTelemetryEmitter  # noqa: E402
from jobs_pipeline.telemetry.log import LogTelemetryEmitter  # noqa: E402
from jobs_pipeline.telemetry.memory import InMemoryTelemetryEmitter  # noqa: E402
from jobs_pipeline.warehouse.connection import connect, scalar  # noqa: E402
from jobs_pipeline.warehouse.events import ensure_schema  # noqa: E402
import duckdb  # noqa: E402
from jobs_pipeline.warehouse.events import _READ_COLUMNS, duplicate_event_ids, ingest_lake  # noqa: E402
from jobs_pipeline.telemetry.lake import PART_GLOB  # noqa: E402

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


# -- schema 1, frozen for the before/after comparison (jobs_pipeline/warehouse/events.py @ 1eecd19) --
SCHEMA1_DDL = """
CREATE TABLE IF NOT EXISTS job_events (
    event_id UUID PRIMARY KEY, event_type VARCHAR NOT NULL, job_id UUID NOT NULL, task VARCHAR NOT NULL,
    ts TIMESTAMPTZ NOT NULL, marketplace VARCHAR NOT NULL, category VARCHAR NOT NULL, region VARCHAR NOT NULL,
    partition_key VARCHAR NOT NULL, attempt INTEGER NOT NULL, sequence INTEGER NOT NULL, ruleset VARCHAR,
    tier VARCHAR NOT NULL, records_total BIGINT, records_valid BIGINT, records_error BIGINT,
    records_warning BIGINT, payload_size_bytes BIGINT, processing_time_ms DOUBLE, latency_ms DOUBLE,
    error_rate DOUBLE, warning_rate DOUBLE, errors_by_field JSON, error_type VARCHAR, error_message VARCHAR,
    error_classification VARCHAR, retry_delay_s DOUBLE, metrics JSON NOT NULL, source_file VARCHAR NOT NULL,
    ingested_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS lake_files (path VARCHAR PRIMARY KEY, events BIGINT NOT NULL,
                                       ingested_at TIMESTAMPTZ NOT NULL DEFAULT now());
"""
SCHEMA1_INSERT = """
INSERT INTO job_events
WITH parsed AS (
    SELECT n.*,
           json_transform(metrics, '{"records_total": "BIGINT", "records_valid": "BIGINT",
               "records_error": "BIGINT", "records_warning": "BIGINT",
               "payload_size_bytes": "BIGINT", "processing_time_ms": "DOUBLE",
               "latency_ms": "DOUBLE", "error_rate": "DOUBLE", "warning_rate": "DOUBLE",
               "errors_by_field": "JSON"}') AS m,
           json_transform(error, '{"error_type": "VARCHAR", "message": "VARCHAR",
               "classification": "VARCHAR", "delay_s": "DOUBLE"}') AS x
    FROM _new_events n
    WHERE NOT EXISTS (SELECT 1 FROM job_events e WHERE e.event_id = n.event_id)
    QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY "timestamp", filename) = 1
)
SELECT event_id, type, job_id, task, "timestamp", marketplace, category, region,
       partition_key, attempt, sequence, ruleset, tier,
       m.records_total, m.records_valid, m.records_error, m.records_warning,
       m.payload_size_bytes, m.processing_time_ms, m.latency_ms, m.error_rate,
       m.warning_rate, m.errors_by_field,
       x.error_type, x.message, x.classification, x.delay_s,
       metrics, filename, now()
FROM parsed
"""


def schema1_ingest_files(con, files: list[str]) -> int:
    con.execute(SCHEMA1_DDL)
    con.execute("BEGIN TRANSACTION")
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _new_events AS
        SELECT * FROM read_json(?, format='newline_delimited', columns={_READ_COLUMNS}, filename=true)""", [files])
    before = scalar(con, "SELECT count(*) FROM job_events")
    con.execute(SCHEMA1_INSERT)
    after = scalar(con, "SELECT count(*) FROM job_events")
    con.execute("""INSERT INTO lake_files (path, events)
        SELECT f.path, coalesce(c.n, 0) FROM unnest(?) AS f(path)
        LEFT JOIN (SELECT filename, count(*) AS n FROM _new_events GROUP BY 1) c ON c.filename = f.path""", [files])
    con.execute("DROP TABLE _new_events")
    con.execute("COMMIT")
    return after - before


PRELOAD_SQL = """INSERT INTO job_events
SELECT uuid(), 'job.completed', uuid(), 'validate_feed', TIMESTAMPTZ '2026-01-01 00:00:00+00' + to_seconds(i),
       'amazon', 'c' || (i % 5), 'BR', 'amazon:c' || (i % 5) || ':BR', 1, 2, NULL, 'free',
       100, 95, 5, 0, 1000 + i, 12.5, 40.0, 0.05, 0.0, '{"price":3,"gtin":2}', NULL, NULL, NULL, NULL,
       '{"payload_size_bytes":1000,"records_total":100}', 'preload', now()
FROM range(?) r(i)"""


class SyncDuckDBEmitter:
    """The DuckDB emitter before the writer thread: one synchronous Arrow insert on the
    caller's thread every ``batch_size`` events (same insert SQL as today)."""

    def __init__(self, path: Path, batch_size: int = 5_000) -> None:
        self._con = duckdb.connect(str(path))
        ensure_schema(self._con)
        self.batch_size, self._buffer = batch_size, []

    def emit(self, event) -> None:
        self._buffer.append(event)
        if len(self._buffer) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        batch, self._buffer = self._buffer, []
        insert_events(self._con, batch, "sync")

    def close(self) -> None:
        self.flush()
        self._con.close()


def timed_ingest(tmp: Path, name: str, lake: Path, variant: str, preload: int) -> tuple[float, int]:
    """Seconds for one ingestion of ``lake`` (+ CHECKPOINT) into a fresh file with ``preload`` rows."""
    path = tmp / f"{name}.duckdb"
    for suffix in ("", ".wal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    files = sorted(str(p) for p in lake.glob(PART_GLOB))
    with connect(path) as con:
        if variant == "schema 1":
            con.execute(SCHEMA1_DDL)
        else:
            ensure_schema(con)
        if preload:
            con.execute(PRELOAD_SQL, [preload])
            con.execute("CHECKPOINT")
        t = time.perf_counter()
        inserted = schema1_ingest_files(con, files) if variant == "schema 1" else ingest_lake(con, lake).events_inserted
        con.execute("CHECKPOINT")
        seconds = time.perf_counter() - t
        assert duplicate_event_ids(con) == 0 and scalar(con, "SELECT count(*) FROM job_events") == preload + inserted
    return seconds, inserted


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
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--preload", type=int, default=1_000_000)
    args = ap.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.1f} ({os.cpu_count()} cores)")
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
        "duckdb, synchronous writes (before)": lambda: SyncDuckDBEmitter(tmp / "hot-sync.duckdb"),
        "composite(log,lake,http)": lambda: CompositeTelemetryEmitter(
            [LogTelemetryEmitter(log=log), LakeTelemetryEmitter(tmp / "lake-comp"), http()]),
    }
    events = make_events(args.events, "hot")
    warm = SyncDuckDBEmitter(tmp / "warm-up.duckdb")  # the process's first DuckDB insert loads code
    for e in events[:10]:
        warm.emit(e)
    warm.close()
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
        if i % 10_000 == 0:  # a new writer per 10k events: 20 files, as before the lake appended
            lake.close()
            lake = LakeTelemetryEmitter(tmp / "lake-ingest", fsync=False)
    lake.close()
    runs: dict[tuple[str, int], list[float]] = {}
    for _ in range(args.repeat):  # alternate the variants so load changes hit both
        for preload in (0, args.preload):
            for variant in ("schema 1", "schema 2"):
                seconds, inserted = timed_ingest(tmp, "ingest", tmp / "lake-ingest", variant, preload)
                assert inserted == len(big)
                runs.setdefault((variant, preload), []).append(seconds)
    with connect(tmp / "ingest.duckdb") as con:
        t = time.perf_counter()
        again = ingest_lake(con, tmp / "lake-ingest")
        noop_s = time.perf_counter() - t
    files = len(list((tmp / "lake-ingest").glob(PART_GLOB)))
    direct = DuckDBTelemetryEmitter(tmp / "direct.duckdb", batch_size=len(big) + 1)
    for e in big:
        direct.emit(e)
    t = time.perf_counter()
    direct.close()
    direct_s = time.perf_counter() - t
    assert direct.inserted == len(big) and again.events_inserted == 0
    print(f"\ningestion of {len(big)} events ({files} lake files) into DuckDB job_events, + CHECKPOINT; "
          f"{args.repeat} runs each, alternating:")
    print("| path | table before | median s | best s | median rows/s | best rows/s |")
    print("|---|---|---|---|---|---|")
    for (variant, preload), secs in runs.items():
        label = ("ingest_lake, schema 2 (no index; append, then delete duplicates)" if variant == "schema 2"
                 else "schema 1 (event_id PRIMARY KEY, staged, window de-dup)")
        med = statistics.median(secs)
        print(f"| {label} | {preload:,} rows | {med:.2f} | {min(secs):.2f} | {len(big) / med:,.0f} | "
              f"{len(big) / min(secs):,.0f} |")
    for preload in (0, args.preload):
        ratio = statistics.median(runs[("schema 1", preload)]) / statistics.median(runs[("schema 2", preload)])
        print(f"schema 2 vs schema 1, {preload:,} rows before: {ratio:.2f}x faster (medians)")
    print(f"| DuckDB emitter, one Arrow batch (close) | empty | {direct_s:.2f} | | {len(big) / direct_s:,.0f} | |")
    print(f"| ingest_lake again (nothing new) | | {noop_s:.3f} | | - | |")
    print(f"load average at end: {os.getloadavg()[0]:.1f}")
    server.shutdown()


if __name__ == "__main__":
    main()
