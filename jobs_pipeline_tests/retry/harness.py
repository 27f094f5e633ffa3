"""Fault injection for the retry tests: dependencies that fail N times with the real
library's exception (a real call to a dead local endpoint), then work; and the quality
tables built from a real lake into a real DuckDB file."""

import json
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from jobs_pipeline.domain.model import ValidationJob
from jobs_pipeline.domain.retry import ExponentialRetryPolicy, JobRetryRequested, RetryDecision
from jobs_pipeline.jobs.service import JobOutcome, JobService
from jobs_pipeline.telemetry.events import TelemetryEvent
from jobs_pipeline.telemetry.lake import PART_GLOB, LakeTelemetryEmitter
from jobs_pipeline.validation.engine import validate_file
from jobs_pipeline.warehouse.connection import connect
from jobs_pipeline.warehouse.events import ingest_lake
from jobs_pipeline.warehouse.tables import build_job_runs
from jobs_pipeline_tests.retry.faults import closed_port, redis_client

#: tiny, real backoff: the policy's arithmetic runs, nobody waits.
FAST = {"base_s": 0.001, "throttle_base_s": 0.002, "cap_s": 0.01}


def fast_policy(max_attempts: int = 3) -> ExponentialRetryPolicy:
    return ExponentialRetryPolicy(max_attempts=max_attempts, **FAST)


@dataclass
class BrokerOutage:
    """A Redis broker that is down for the first ``down_for`` calls: those go to a closed
    port (real ``redis.ConnectionError``); later calls reach the live server."""

    live_url: str
    down_for: int
    calls: int = 0
    dead_port: int = field(default_factory=closed_port)

    def __call__(self) -> None:
        self.calls += 1
        if self.calls <= self.down_for:
            redis_client(port=self.dead_port).ping()
        else:
            redis_client(self.live_url).incr("issue6:checkpoints")


@dataclass
class RefusedNTimes:
    """A dependency refused (real ``ConnectionRefusedError`` from a closed local port) for
    its first ``n`` calls, then reachable."""

    n: int
    calls: int = 0
    port: int = field(default_factory=closed_port)

    def __call__(self) -> None:
        self.calls += 1
        if self.calls <= self.n:
            socket.create_connection(("127.0.0.1", self.port), timeout=2).close()


@dataclass
class Raising:
    """A dependency that always fails with what ``make()`` raises (a real library call)."""

    make: Callable[[], Any]
    calls: int = 0

    def __call__(self) -> None:
        self.calls += 1
        self.make()


class DependentValidator:
    """The real validator, after touching an external dependency (broker, HTTP source...)."""

    def __init__(self, dependency: Callable[[], None]) -> None:
        self.dependency = dependency
        self.calls = 0

    def __call__(self, path: Path, ruleset: Any, **kwargs: Any):
        self.calls += 1
        self.dependency()
        return validate_file(path, ruleset, **kwargs)


class HttpSinkEmitter:
    """Writes each event to the lake, then POSTs it to an HTTP sink and raises the sink's
    real ``httpx`` error (an HTTP emitter without its own buffering: the worst case)."""

    def __init__(self, lake_dir: Path, url: str) -> None:
        self.lake = LakeTelemetryEmitter(lake_dir, fsync=False)
        self.url = url
        self.posts = 0
        self._client = httpx.Client(timeout=5)

    def emit(self, event: TelemetryEvent) -> None:
        self.lake.emit(event)
        self.posts += 1
        self._client.post(self.url, json=event.to_json_dict()).raise_for_status()

    def flush(self) -> None:
        self.lake.flush()

    def close(self) -> None:
        self.lake.close()
        self._client.close()


@dataclass
class Runner:
    """What Dagster and Celery do with ``JobRetryRequested``: run the same job again with
    ``attempt + 1`` (without sleeping: the delays are checked, not waited for)."""

    service: JobService
    decisions: list[RetryDecision] = field(default_factory=list)

    def run(self, job: ValidationJob, *, limit: int = 10) -> JobOutcome:
        attempt = 1
        while attempt <= limit:
            try:
                return self.service.run(job, attempt=attempt)
            except JobRetryRequested as exc:
                assert exc.attempt == attempt
                self.decisions.append(exc.decision)
                attempt += 1
        raise AssertionError(f"still retrying after {limit} attempts")


_lock = threading.Lock()


def lake_events(lake_dir: Path) -> list[dict[str, Any]]:
    rows = [json.loads(line) for part in sorted(Path(lake_dir).glob(PART_GLOB))
            for line in part.read_text().splitlines()]
    return sorted(rows, key=lambda e: (e["attempt"], e["sequence"]))


def job_runs(lake_dir: Path, db_path: Path) -> list[dict[str, Any]]:
    """Ingest the lake into the DuckDB file and rebuild ``job_runs``; its rows as dicts."""
    with _lock, connect(db_path) as con:
        ingest_lake(con, lake_dir)
        build_job_runs(con)
        cursor = con.execute("SELECT job_id::VARCHAR AS job_id, status, attempts, retries, records_total, "
                             "error_type FROM job_runs ORDER BY job_id")
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]


def event_rows(db_path: Path, job_id: str) -> list[dict[str, Any]]:
    with _lock, connect(db_path, read_only=True) as con:
        cursor = con.execute(
            "SELECT event_type, attempt, error_type, error_classification, retry_delay_s FROM job_events "
            "WHERE job_id = ?::UUID ORDER BY attempt, sequence", [job_id])
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]
