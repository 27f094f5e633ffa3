"""``DuckDBTelemetryEmitter``: events straight into ``job_events``, for single-process use.

``emit`` validates and queues (bounded: a full queue makes ``emit`` wait); one background
thread writes each batch as one Arrow table through the lake ingestion's insert, so both paths
give the same rows and the same exactly-once guarantee. ``flush`` waits until every event
emitted before it is committed (raising the writer's last error); ``close`` flushes and stops.
"""

import json
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from jobs_pipeline.domain.backoff import backoff_delay
from jobs_pipeline.telemetry.events import TelemetryEvent, require_valid
from jobs_pipeline.warehouse.connection import transaction
from jobs_pipeline.warehouse.events import WRITE_LOCK, ensure_schema, insert_new_events

logger = logging.getLogger(__name__)

#: The registered Arrow batch with the lake's column types (see ``_READ_COLUMNS``).
_ARROW_SOURCE = """(
SELECT CAST(event_id AS UUID) AS event_id, type, CAST(job_id AS UUID) AS job_id, task,
       "timestamp", marketplace, category, region, partition_key, attempt, sequence, ruleset,
       tier, CAST(metrics AS JSON) AS metrics, CAST(error AS JSON) AS error, schema_version,
       filename
FROM _arrow_batch)"""


def events_to_arrow(events: list[TelemetryEvent], source: str) -> pa.Table:
    """Column-wise Arrow table of ``events`` (lists per column, no per-row dicts)."""
    dumps = json.dumps
    return pa.table({
        "event_id": [str(e.event_id) for e in events],
        "type": [e.type.value for e in events],
        "job_id": [str(e.job_id) for e in events],
        "task": [e.task for e in events],
        "timestamp": pa.array([e.timestamp for e in events], pa.timestamp("us", tz="UTC")),
        "marketplace": [e.marketplace for e in events],
        "category": [e.category for e in events],
        "region": [e.region for e in events],
        "partition_key": [e.partition_key for e in events],
        "attempt": pa.array([e.attempt for e in events], pa.int32()),
        "sequence": pa.array([e.sequence for e in events], pa.int32()),
        "ruleset": pa.array([e.ruleset for e in events], pa.string()),
        "tier": [e.tier for e in events],
        "metrics": [dumps(e.metrics, separators=(",", ":")) for e in events],
        "error": pa.array([e.error.model_dump_json() if e.error else None for e in events], pa.string()),
        "schema_version": pa.array([e.schema_version for e in events], pa.int32()),
        "filename": [source] * len(events),
    })


def insert_events(con: duckdb.DuckDBPyConnection, events: list[TelemetryEvent], source: str) -> int:
    """Insert ``events`` (new ids only) in one transaction; returns the rows added."""
    if not events:
        return 0
    table = events_to_arrow(events, source)
    with WRITE_LOCK, transaction(con):
        con.register("_arrow_batch", table)
        added = insert_new_events(con, _ARROW_SOURCE, {})
        con.unregister("_arrow_batch")
    return added


@dataclass
class DuckDBSinkStats:
    emitted: int = 0
    written: int = 0  # events committed (new rows, or ids the table already held)
    batches: int = 0
    failures: int = 0
    backpressure_waits: int = 0


class DuckDBTelemetryEmitter:
    """DuckDB has one writer per file, so this suits a laptop, a notebook or the CLI; deployments
    with several workers write the lake and let the ``job_events`` asset ingest it.

    The writer thread writes when ``batch_size`` events wait, when the oldest has waited
    ``max_age_s``, on ``flush`` and on ``close``, everything queued at once as one Arrow table and
    one ``INSERT … SELECT`` (a row-at-a-time ``executemany`` runs at ~2.5k rows/s, Arrow batches at
    hundreds of thousands).

    - ``flush()`` waits until every event emitted before the call is committed (a durability
      point: ``wait_on_flush``); if the last write attempt failed it raises that error, and the
      events stay queued for the writer's next attempt (backoff up to ``max_backoff_s``).
    - The queue holds at most ``max_queue`` events: beyond that ``emit`` waits for the writer
      (counted in ``stats.backpressure_waits``) rather than drop an event or grow without bound.
    - ``close()`` flushes (up to ``close_timeout_s``), stops the thread and closes the file; events
      it could not write are logged and reported by a ``RuntimeError``.
    """

    wait_on_flush = True  # flush is a durability point: a composite waits for it

    def __init__(self, path: Path | str, *, batch_size: int = 5_000, max_queue: int = 100_000,
                 max_age_s: float = 1.0, max_backoff_s: float = 5.0, close_timeout_s: float = 30.0) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.batch_size = batch_size
        self.max_queue = max(max_queue, batch_size)
        self.max_age_s = max_age_s
        self.max_backoff_s = max_backoff_s
        self.close_timeout_s = close_timeout_s
        self.source = f"duckdb-emitter:{self.path.name}"
        self._con = duckdb.connect(str(self.path))  # opened here: a locked file fails the caller now
        ensure_schema(self._con)
        self.stats = DuckDBSinkStats()
        self.inserted = 0
        self._cond = threading.Condition()
        self._queue: list[TelemetryEvent] = []
        self._oldest_at = 0.0
        self._flush_target = 0  # emitted-count a flush waits for
        self._error: BaseException | None = None  # the last write's failure, cleared on success
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="telemetry-duckdb-writer", daemon=True)
        self._thread.start()

    # -- the job's side (hot path) ----------------------------------------------------
    def emit(self, event: TelemetryEvent) -> None:
        require_valid(event)
        with self._cond:
            if self._closing:
                raise RuntimeError("emit after close")
            while len(self._queue) >= self.max_queue and self._thread.is_alive():
                self.stats.backpressure_waits += 1
                self._cond.notify_all()
                self._cond.wait(0.1)
            self._queue.append(event)
            self.stats.emitted += 1
            n = len(self._queue)
            if n == 1:  # the writer starts the max_age_s clock
                self._oldest_at = time.monotonic()
                self._cond.notify_all()
            elif n == self.batch_size:
                self._cond.notify_all()

    def flush(self, timeout: float | None = None) -> None:
        """Wait until everything emitted so far is committed; raises the writer's error (the
        events stay queued and are retried) or ``TimeoutError``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            target = self.stats.emitted
            self._flush_target = max(self._flush_target, target)
            self._error = None  # only a failure after this request counts
            self._cond.notify_all()
            while self.stats.written < target:
                if self._error is not None:
                    raise RuntimeError(f"DuckDB telemetry sink {self.path}: write failed, "
                                       f"{target - self.stats.written} events still queued") from self._error
                if not self._thread.is_alive():
                    raise RuntimeError(f"DuckDB telemetry sink {self.path} is closed; "
                                       f"{target - self.stats.written} events not written")
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise TimeoutError(f"DuckDB telemetry sink {self.path}: flush timed out")
                self._cond.wait(left)

    def close(self) -> None:
        """Write what is queued (retrying for up to ``close_timeout_s``), stop, close the file."""
        if self._con is None:
            return
        deadline = time.monotonic() + self.close_timeout_s
        with self._cond:
            target = self.stats.emitted
            self._flush_target = max(self._flush_target, target)
            self._cond.notify_all()
            while self.stats.written < target and self._thread.is_alive():
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            self._closing = True  # the writer makes one last attempt at what is left, then stops
            self._cond.notify_all()
        self._thread.join()
        self._con.close()
        self._con = None
        lost = self.stats.emitted - self.stats.written
        if lost:
            logger.error("DuckDB telemetry sink %s closed with %d events not written", self.path, lost)
            raise RuntimeError(f"DuckDB telemetry sink {self.path}: {lost} events not written") from self._error

    # -- the writer thread --------------------------------------------------------------
    def _due_locked(self) -> bool:
        return bool(self._queue) and (
            self._closing or len(self._queue) >= self.batch_size
            or self._flush_target > self.stats.written
            or time.monotonic() - self._oldest_at >= self.max_age_s)

    def _run(self) -> None:
        failed_in_a_row = 0
        while True:
            with self._cond:
                while not self._due_locked():
                    if self._closing:
                        return
                    wait = self.max_age_s - (time.monotonic() - self._oldest_at) if self._queue else None
                    self._cond.wait(None if wait is None else max(wait, 0.001))
                batch, self._queue = self._queue, []
                self._cond.notify_all()  # room again for emitters waiting on a full queue
            try:
                added = insert_events(self._con, batch, self.source)
            except Exception as exc:  # kept in order at the head; retried after a backoff
                with self._cond:
                    self._queue[:0] = batch
                    self._oldest_at = time.monotonic()
                    self._error = exc
                    self.stats.failures += 1
                    self._cond.notify_all()
                    giving_up = self._closing
                if self.stats.failures in (1, 10, 100) or self.stats.failures % 1000 == 0:
                    logger.warning("DuckDB telemetry sink %s: write of %d events failed (%d failures): %s",
                                   self.path, len(batch), self.stats.failures, type(exc).__name__)
                if giving_up:
                    return
                failed_in_a_row += 1
                backoff = backoff_delay(failed_in_a_row, base_s=0.05, cap_s=self.max_backoff_s, jitter=False)
                with self._cond:
                    self._cond.wait_for(lambda: self._closing, backoff)
                continue
            failed_in_a_row = 0
            with self._cond:
                self.inserted += added
                self.stats.written += len(batch)
                self.stats.batches += 1
                self._error = None
                self._cond.notify_all()
