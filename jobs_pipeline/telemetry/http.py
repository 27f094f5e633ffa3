"""``HTTPTelemetryEmitter``: job events to an HTTP collector (a data lake's ingest endpoint).

``emit`` only queues; one background thread batches, sends (CloudEvents, gzip, an
``Idempotency-Key``) and retries with the shared backoff. Batches it cannot send go to an
on-disk spool, sent first when the collector answers again. Details: docs/events.md.
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
    spooled_batches: int = 0
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
    wait_on_flush = False

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
        self._client = httpx.Client(timeout=config.timeout_s, headers=headers)
        self._cond = threading.Condition()
        self._queue: deque[TelemetryEvent] = deque()
        self._oldest_at = 0.0
        self._carry: deque[bytes] = deque()  # encoded, not yet batched (byte limit hit)
        self._inflight = 0
        self._failures = 0
        self._flush_requested = False
        self._closing = False
        self._close_deadline = float("inf")
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="telemetry-http-sender", daemon=True)
        self._thread.start()

    def __repr__(self) -> str:  # never the token
        return f"HTTPTelemetryEmitter(url={self.config.url!r}, mode={self.config.mode!r})"

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
        """Ship the open batch now; never waits for the network (see :meth:`drain`)."""
        with self._cond:
            self._flush_requested = True
            self._cond.notify()

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
        return not self._queue and not self._carry and self._inflight == 0 and len(self.spool) == 0

    def _run(self) -> None:
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
                    elif remaining[0] is not segment.batch or len(remaining) > 1:
                        self.spool.replace(segment, remaining)
                    if remaining and not self._backoff(delay):
                        return
                    continue
                batch = self._take_batch()
                if batch is None:
                    return
                if not batch:
                    with self._cond:
                        self._inflight = 0
                        self._cond.notify_all()
                    continue
                try:
                    remaining, delay = self._deliver(batch)
                    for rest in remaining:  # the sink is down: keep them on disk, in order
                        self.spool.append(rest)
                        self.stats.spooled_batches += 1
                finally:
                    with self._cond:
                        self._inflight = 0
                        self._cond.notify_all()
                if remaining and not self._backoff(delay):
                    return
        except Exception:  # never die silently: the rest stays queued/spooled
            logger.exception("telemetry HTTP sender crashed; undelivered events stay in %s", self.spool.dir)
        finally:
            with self._cond:
                self._stopped = True
                self._cond.notify_all()

    def _ready_locked(self) -> bool:
        if self._carry or self._closing or len(self._queue) >= self._max_events:
            return True
        if not self._queue:
            return False
        return self._flush_requested or time.monotonic() - self._oldest_at >= self.config.max_batch_age_s

    def _take_batch(self) -> Batch | None:
        """The next batch from memory (``None``: closing and nothing left; ``[]``: the spool
        got new batches meanwhile, send those first)."""
        with self._cond:
            while True:
                if len(self.spool):
                    return []
                if self._ready_locked():
                    break
                wait = None
                if self._queue:
                    wait = max(0.0, self.config.max_batch_age_s - (time.monotonic() - self._oldest_at))
                self._cond.wait(wait)
            if not self._queue and not self._carry:
                self._flush_requested = False
                return None  # closing, nothing left
            room = max(0, self._max_events - len(self._carry))
            take = [self._queue.popleft() for _ in range(min(room, len(self._queue)))]
            carry = list(self._carry)
            self._carry.clear()
            if self._queue:
                self._oldest_at = time.monotonic()
            else:
                self._flush_requested = False
            self._inflight = len(take) + len(carry)
        encoded = carry + [b for b in (self._encode(e) for e in take) if b is not None]
        batch: Batch = []
        size = 2
        for i, body in enumerate(encoded):
            if batch and (size + len(body) + 1 > self.config.max_batch_bytes):
                with self._cond:
                    self._carry.extendleft(reversed(encoded[i:]))
                    self._inflight = len(batch)
                break
            batch.append(body)
            size += len(body) + 1
        return batch

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

    def _spill_memory(self) -> None:
        """Move every queued event to the spool, in batches, behind what is already there."""
        with self._cond:
            events = list(self._queue)
            self._queue.clear()
            carry = list(self._carry)
            self._carry.clear()
        encoded = carry + [b for b in (self._encode(e) for e in events) if b is not None]
        batch: Batch = []
        size = 2
        for body in encoded:
            if batch and (len(batch) >= self._max_events or size + len(body) + 1 > self.config.max_batch_bytes):
                self.spool.append(batch)
                self.stats.spooled_batches += 1
                batch, size = [], 2
            batch.append(body)
            size += len(body) + 1
        if batch:
            self.spool.append(batch)
            self.stats.spooled_batches += 1

    def _dead_letter(self, batch: Batch, reason: str) -> None:
        self.dead_dir.mkdir(parents=True, exist_ok=True)
        name = f"{time.time_ns()}-{reason.replace(' ', '_').replace(':', '')[:40]}.jsonl"
        (self.dead_dir / name).write_bytes(b"\n".join(batch) + b"\n")
        self.stats.dead_events += len(batch)


def _default_spool() -> Path:
    import tempfile

    return Path(tempfile.gettempdir()) / "jobs-pipeline-telemetry-spool"
