"""``HTTPTelemetryEmitter``: job events to an HTTP collector (a data lake's ingest endpoint).

``emit`` only queues; one background thread batches, writes each batch to an on-disk spool,
then sends it (CloudEvents, gzip, an ``Idempotency-Key``) and retries with the shared backoff.
``flush`` is the durability point: every event emitted before it is on disk when it returns,
so a crash loses nothing the collector did not acknowledge. Details: docs/events.md.
"""

import gzip
import hashlib
import logging
import random
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from jobs_pipeline.domain.backoff import backoff_delay, parse_retry_after
from jobs_pipeline.telemetry.cloudevents import (
    BATCH_CONTENT_TYPE, STRUCTURED_CONTENT_TYPE, CloudEventsConfig, EventTooLargeError, encode,
)
from jobs_pipeline.telemetry.endpoint import endpoint, install_httpx_redaction
from jobs_pipeline.telemetry.events import TelemetryEvent, require_valid
from jobs_pipeline.telemetry.spool import Batch, Spool
from jobs_pipeline.domain.transient import classify

logger = logging.getLogger(__name__)

#: Statuses worth re-sending (OTLP/HTTP: 429, 502, 503, 504; we add 500: the Idempotency-Key
#: makes re-posting a batch the server may have half-stored safe).
DEFAULT_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
#: The server says the body is too large: split, never resend as-is.
TOO_LARGE = 413


@dataclass(frozen=True)
class HTTPSinkConfig:
    """Everything the HTTP sink reads from ``TELEMETRY_HTTP_*`` (see :mod:`jobs_pipeline.settings`)."""

    url: str
    token: str | None = field(default=None, repr=False)
    mode: str = "batch"  # "batch" | "structured"
    max_batch_events: int = 500
    max_batch_bytes: int = 1_000_000
    max_batch_age_s: float = 1.0
    gzip: bool = True
    timeout_s: float = 10.0
    backoff_base_s: float = 0.5
    backoff_cap_s: float = 60.0
    max_retry_after_s: float = 300.0
    max_queue_events: int = 20_000
    close_timeout_s: float = 10.0
    spool_dir: Path | None = None
    retry_statuses: frozenset[int] = DEFAULT_RETRY_STATUSES
    cloudevents: CloudEventsConfig = CloudEventsConfig()

    def __post_init__(self) -> None:
        if self.mode not in ("batch", "structured"):
            raise ValueError(f"mode must be 'batch' or 'structured', not {self.mode!r}")
        if TOO_LARGE in self.retry_statuses or 400 in self.retry_statuses:
            raise ValueError("400 and 413 are never retried")


@dataclass
class HTTPStats:
    """Counters for tests, benchmarks and logs (no payloads, no secrets)."""

    emitted: int = 0
    delivered_events: int = 0
    requests: int = 0
    failed_requests: int = 0
    splits: int = 0
    spooled_batches: int = 0  # batches written to the spool (every batch: write-ahead)
    overflow_spills: int = 0
    dead_events: int = 0
    waits: deque = field(default_factory=lambda: deque(maxlen=1000))


class _PostResult:
    __slots__ = ("ok", "status", "retryable", "retry_after", "reason")

    def __init__(self, ok: bool, status: int | None, retryable: bool, retry_after: float | None, reason: str):
        self.ok, self.status, self.retryable, self.retry_after, self.reason = ok, status, retryable, retry_after, reason


class HTTPTelemetryEmitter:
    """See the module docstring. ``spool_dir`` defaults to a temporary folder only in tests:
    deployments set ``TELEMETRY_SPOOL_DIR``."""

    nonblocking = True  # its own queue and sender thread: a composite calls it directly
    wait_on_flush = False  # flush never waits for the network (it writes the spool)

    def __init__(self, config: HTTPSinkConfig, *, rng: random.Random | None = None,
                 spool_dir: Path | str | None = None) -> None:
        self.config = config
        if config.mode == "structured":
            self._max_events = 1
        else:
            self._max_events = config.max_batch_events
        root = Path(spool_dir or config.spool_dir or _default_spool())
        self.spool = Spool(root)
        self.dead_dir = root / "dead"
        self.stats = HTTPStats()
        self._rng = rng or random.Random()
        headers = {"User-Agent": "jobs-pipeline-telemetry/1"}
        if config.token:
            headers["Authorization"] = f"Bearer {config.token}"
        install_httpx_redaction()  # httpx logs each request's URL, which may hold a secret
        self._client = httpx.Client(timeout=config.timeout_s, headers=headers)
        self._cond = threading.Condition()
        self._to_disk = threading.Lock()  # memory -> spool, one mover at a time: order is kept
        self._queue: deque[TelemetryEvent] = deque()
        self._oldest_at = 0.0
        self._moving = 0  # events taken from the queue, not yet in the spool
        self._failures = 0
        self._closing = False
        self._close_deadline = float("inf")
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="telemetry-http-sender", daemon=True)
        self._thread.start()

    def __repr__(self) -> str:  # never the token, nor the URL's path or query
        return f"HTTPTelemetryEmitter(url={endpoint(self.config.url)!r}, mode={self.config.mode!r})"

    # -- the job's side (hot path) ----------------------------------------------------
    def emit(self, event: TelemetryEvent) -> None:
        require_valid(event)
        with self._cond:
            if self._closing:
                raise RuntimeError("emit after close")
            if not self._queue:
                self._oldest_at = time.monotonic()
            self._queue.append(event)
            self.stats.emitted += 1
            n = len(self._queue)
            if n == self._max_events:
                self._cond.notify()
            overflow = n >= self.config.max_queue_events
        if overflow:  # the sender cannot keep up: keep memory bounded, on disk, no network
            self.stats.overflow_spills += 1
            self._spill_memory()
            with self._cond:
                self._cond.notify()

    def flush(self) -> None:
        """The durability point: when it returns, every event emitted before it is in the
        spool on disk (or already acknowledged), and the sender ships it at once. Never waits
        for the network (see :meth:`drain`)."""
        self._spill_memory()
        with self._cond:
            self._cond.notify_all()

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until everything emitted so far is delivered (or dead-lettered); ``False`` on
        timeout. For shutdown, tests and the replay command, never for a job."""
        deadline = None if timeout is None else time.monotonic() + timeout
        self.flush()
        with self._cond:
            while not self._idle_locked():
                if self._stopped:
                    return False
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._cond.wait(0.05 if left is None else min(left, 0.05))
        return True

    def close(self, timeout: float | None = None) -> None:
        """Drain for up to ``timeout`` (``close_timeout_s``), then spool the rest and stop."""
        timeout = self.config.close_timeout_s if timeout is None else timeout
        with self._cond:
            if self._stopped and not self._thread.is_alive():
                return
            self._closing = True
            self._close_deadline = time.monotonic() + timeout
            self._cond.notify_all()
        self._thread.join()
        self._client.close()
        self.spool.close()

    # -- the sender thread -----------------------------------------------------------
    def _idle_locked(self) -> bool:
        return not self._queue and self._moving == 0 and len(self.spool) == 0

    def _run(self) -> None:
        """Send the spool's head until it is empty; then wait for the next batch to be due and
        write it to the spool first (write-ahead: what is on the wire is also on disk)."""
        try:
            while True:
                if self._closing and time.monotonic() >= self._close_deadline:
                    self._spill_memory()
                    return
                segment = self.spool.head()
                if segment is not None:
                    remaining, delay = self._deliver(segment.batch)
                    if not remaining:
                        self.spool.remove(segment)
                        with self._cond:
                            self._cond.notify_all()
                    elif remaining[0] is not segment.batch or len(remaining) > 1:
                        self.spool.replace(segment, remaining)
                    if remaining and not self._backoff(delay):
                        return
                    continue
                due = self._wait_for_work()
                if due is None:
                    return
                if due:
                    self._spill_memory(self._max_events)
        except Exception:  # never die silently: the rest stays queued/spooled
            logger.exception("telemetry HTTP sender crashed; undelivered events stay in %s", self.spool.dir)
        finally:
            with self._cond:
                self._stopped = True
                self._cond.notify_all()

    def _ready_locked(self) -> bool:
        if self._closing or len(self._queue) >= self._max_events:
            return True
        if not self._queue:
            return False
        return time.monotonic() - self._oldest_at >= self.config.max_batch_age_s

    def _wait_for_work(self) -> bool | None:
        """``True``: a batch is due in memory; ``False``: the spool has work (a flush wrote
        it); ``None``: closing and nothing left."""
        with self._cond:
            while True:
                if len(self.spool):
                    return False
                if self._ready_locked():
                    return True if self._queue else None  # ready and empty: closing
                wait = None
                if self._queue:
                    wait = max(0.0, self.config.max_batch_age_s - (time.monotonic() - self._oldest_at))
                self._cond.wait(wait)

    def _encode(self, event: TelemetryEvent) -> bytes | None:
        try:
            return encode(event, self.config.cloudevents)
        except EventTooLargeError as exc:
            logger.error("telemetry event dropped to dead letters: %s", exc)
            self._dead_letter([event.model_dump_json().encode()], "too-large")
            return None

    def _deliver(self, batch: Batch) -> tuple[list[Batch], float | None]:
        """Send ``batch`` (splitting on 413). Returns what still needs sending (in order) and
        how long to wait first; ``[]`` when everything was delivered or dead-lettered."""
        pending: list[Batch] = [batch]
        while pending:
            current = pending[0]
            result = self._post(current)
            if result.ok:
                pending.pop(0)
                self._failures = 0
                self.stats.delivered_events += len(current)
                continue
            self.stats.failed_requests += 1
            if result.status == TOO_LARGE:
                pending.pop(0)
                if len(current) > 1:
                    mid = len(current) // 2
                    pending[0:0] = [current[:mid], current[mid:]]
                    self.stats.splits += 1
                    self._max_events = min(self._max_events, mid)  # the receiver's limit: learn it
                else:
                    self._dead_letter(current, "413")
                continue
            if result.retryable:
                self._failures += 1
                delay = backoff_delay(self._failures, base_s=self.config.backoff_base_s,
                                      cap_s=self.config.backoff_cap_s, rng=self._rng,
                                      retry_after_s=result.retry_after,
                                      retry_after_cap_s=self.config.max_retry_after_s)
                logger.warning("telemetry sink unavailable (%s); retrying %d event(s) in %.2fs",
                               result.reason, sum(len(b) for b in pending), delay)
                return pending, delay
            pending.pop(0)
            logger.error("telemetry sink refused a batch of %d event(s) (%s); kept in dead letters",
                         len(current), result.reason)
            self._dead_letter(current, result.reason)
        return [], None

    def _post(self, batch: Batch) -> _PostResult:
        if self.config.mode == "structured":
            body, content_type = batch[0], STRUCTURED_CONTENT_TYPE
        else:
            body, content_type = b"[" + b",".join(batch) + b"]", BATCH_CONTENT_TYPE
        headers = {"Content-Type": content_type, "Idempotency-Key": hashlib.sha256(body).hexdigest()}
        if self.config.gzip:
            body = gzip.compress(body, compresslevel=6, mtime=0)
            headers["Content-Encoding"] = "gzip"
        self.stats.requests += 1
        try:
            response = self._client.post(self.config.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            verdict = classify(exc)
            return _PostResult(False, None, verdict.retryable, verdict.retry_after_s,
                               f"{type(exc).__name__}: {verdict.kind.value}")
        status = response.status_code
        if 200 <= status < 300:
            return _PostResult(True, status, False, None, "ok")
        retryable = status in self.config.retry_statuses
        retry_after = parse_retry_after(response.headers.get("Retry-After")) if retryable else None
        return _PostResult(False, status, retryable, retry_after, f"HTTP {status}")

    def _backoff(self, delay: float | None) -> bool:
        """Wait ``delay`` seconds, spilling the memory queue to disk meanwhile when it grows.
        ``False``: closing and out of time (memory spilled, stop the thread)."""
        delay = delay or 0.0
        self.stats.waits.append(delay)
        until = time.monotonic() + delay
        while True:
            with self._cond:
                closing_out = self._closing and until >= self._close_deadline
                big = len(self._queue) >= self._max_events  # the sink is down: full batches to disk
                left = until - time.monotonic()
                if not (closing_out or big) and left > 0:
                    self._cond.wait(left)
                    continue
            if closing_out or big:
                self._spill_memory()
                if closing_out:
                    return False
                continue
            return True

    def _spill_memory(self, limit: int | None = None) -> None:
        """Move the queued events (all, or the oldest ``limit``) to the end of the spool, in
        batches. Events a failed write (disk full) could not store go back to the queue."""
        with self._to_disk:
            with self._cond:
                n = len(self._queue) if limit is None else min(limit, len(self._queue))
                events = [self._queue.popleft() for _ in range(n)]
                if self._queue:
                    self._oldest_at = time.monotonic()
                self._moving = n
            stored = 0
            try:
                batch: Batch = []
                size = 2
                for i, event in enumerate(events):
                    body = self._encode(event)
                    if body is None:  # dead-lettered
                        continue
                    if batch and (len(batch) >= self._max_events or size + len(body) + 1 > self.config.max_batch_bytes):
                        self.spool.append(batch)
                        self.stats.spooled_batches += 1
                        stored = i
                        batch, size = [], 2
                    batch.append(body)
                    size += len(body) + 1
                if batch:
                    self.spool.append(batch)
                    self.stats.spooled_batches += 1
                stored = n
            finally:
                with self._cond:
                    if stored < n:
                        self._queue.extendleft(reversed(events[stored:]))
                    self._moving = 0
                    self._cond.notify_all()

    def _dead_letter(self, batch: Batch, reason: str) -> None:
        self.dead_dir.mkdir(parents=True, exist_ok=True)
        name = f"{time.time_ns()}-{reason.replace(' ', '_').replace(':', '')[:40]}.jsonl"
        (self.dead_dir / name).write_bytes(b"\n".join(batch) + b"\n")
        self.stats.dead_events += len(batch)


def _default_spool() -> Path:
    import tempfile

    return Path(tempfile.gettempdir()) / "jobs-pipeline-telemetry-spool"
