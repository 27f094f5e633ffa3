"""``CompositeTelemetryEmitter``: fan-out where no sink can hold up another, or the job.

Each sink gets its own bounded queue, thread and retry state (the OTLP multi-destination
model: one queue and retry loop per destination over shared immutable events). ``emit``
only appends the event to every queue. A sink that raises is retried when
:func:`jobs_pipeline.domain.transient.classify` says the error is transient, else counted and
skipped; a slow sink only lets its own queue grow (beyond ``max_queue`` its events are
dropped and counted, never blocking).

Sinks that already have their own queue and sender (``nonblocking = True``, e.g. HTTP) are
called directly. ``flush`` asks every sink to flush and waits, up to ``flush_timeout_s``, only
for the sinks whose flush is a durability point (the lake, DuckDB,
memory; any sink that does not say ``wait_on_flush = False``), so after ``JobService.run`` the
lake holds the job's events as before. The log sink and the HTTP sink (whose flush never waits
for the network) are not waited for, and a slow sink holds the job up by ``flush_timeout_s`` at
most.
"""

import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from jobs_pipeline.telemetry.emitter import TelemetryEmitter
from jobs_pipeline.telemetry.events import TelemetryEvent, require_valid
from jobs_pipeline.domain.transient import classify

logger = logging.getLogger(__name__)


@dataclass
class SinkStats:
    delivered: int = 0
    failures: int = 0
    dropped: int = 0
    retries: int = 0


class _SinkWorker:
    """One sink behind its own queue and thread."""

    def __init__(self, name: str, emitter: TelemetryEmitter, *, max_queue: int, max_attempts: int,
                 backoff_s: float) -> None:
        self.name = name
        self.emitter = emitter
        self.max_queue = max_queue
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self.stats = SinkStats()
        self._ops: deque[tuple[str, object]] = deque()
        self._cond = threading.Condition()
        self._waiting = False
        self._stop = False
        self._thread = threading.Thread(target=self._run, name=f"telemetry-{name}", daemon=True)
        self._thread.start()

    def put(self, event: TelemetryEvent) -> None:
        with self._cond:
            if len(self._ops) >= self.max_queue:
                self.stats.dropped += 1
                return
            self._ops.append(("emit", event))
            if self._waiting:
                self._cond.notify()

    def request(self, action: str) -> threading.Event:
        done = threading.Event()
        with self._cond:
            self._ops.append((action, done))
            self._cond.notify()
        return done

    def stop(self, timeout: float) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify()
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._ops and not self._stop:
                    self._waiting = True
                    self._cond.wait()
                    self._waiting = False
                if not self._ops:
                    return
                action, arg = self._ops.popleft()
            if action == "emit":
                if self._call(self.emitter.emit, arg):
                    self.stats.delivered += 1
            else:
                try:
                    self._call(getattr(self.emitter, action))
                finally:
                    arg.set()  # type: ignore[union-attr]

    def _call(self, fn, *args: object) -> bool:
        for attempt in range(1, self.max_attempts + 1):
            try:
                fn(*args)
                return True
            except Exception as exc:  # a sink's failure is its own, never the job's
                verdict = classify(exc)
                if verdict.retryable and attempt < self.max_attempts and not self._stop:
                    self.stats.retries += 1
                    time.sleep(verdict.retry_after_s or self.backoff_s * 2 ** (attempt - 1))
                    continue
                self.stats.failures += 1
                if self.stats.failures in (1, 10, 100) or self.stats.failures % 1000 == 0:
                    logger.warning("telemetry sink %s failed %d time(s); last: %s (%s)", self.name,
                                   self.stats.failures, type(exc).__name__, verdict.reason)
                return False
        return False


class CompositeTelemetryEmitter:
    def __init__(self, emitters: Sequence[TelemetryEmitter], *, max_queue: int = 100_000,
                 max_attempts: int = 3, backoff_s: float = 0.1, flush_timeout_s: float = 5.0,
                 close_timeout_s: float = 15.0) -> None:
        self.emitters = list(emitters)
        self.flush_timeout_s = flush_timeout_s
        self.close_timeout_s = close_timeout_s
        self.workers: dict[str, _SinkWorker] = {}
        self.direct: dict[str, TelemetryEmitter] = {}
        self.direct_failures: dict[str, int] = {}
        for i, emitter in enumerate(self.emitters):
            name = type(emitter).__name__
            if name in self.workers or name in self.direct:
                name = f"{name}#{i}"
            if getattr(emitter, "nonblocking", False):
                self.direct[name] = emitter
            else:
                self.workers[name] = _SinkWorker(name, emitter, max_queue=max_queue,
                                                 max_attempts=max_attempts, backoff_s=backoff_s)
        self._puts = [w.put for w in self.workers.values()]

    @property
    def failures(self) -> dict[str, int]:
        """Failed operations per sink (queued sinks and direct ones)."""
        out = {name: w.stats.failures for name, w in self.workers.items() if w.stats.failures}
        out.update({k: v for k, v in self.direct_failures.items() if v})
        return out

    def stats(self) -> dict[str, SinkStats]:
        return {name: w.stats for name, w in self.workers.items()}

    def emit(self, event: TelemetryEvent) -> None:
        require_valid(event)  # a programming error: raised to the caller, not swallowed
        for put in self._puts:
            put(event)
        for name, emitter in self.direct.items():
            self._direct(name, emitter.emit, event)

    def flush(self) -> None:
        waits = []
        for w in self.workers.values():
            done = w.request("flush")
            if getattr(w.emitter, "wait_on_flush", True):
                waits.append((w.name, done))
        for name, emitter in self.direct.items():
            self._direct(name, emitter.flush)
        deadline = time.monotonic() + self.flush_timeout_s
        for name, done in waits:
            if not done.wait(max(0.0, deadline - time.monotonic())):
                logger.warning("telemetry sink %s did not flush within %.1fs", name, self.flush_timeout_s)

    def close(self) -> None:
        deadline = time.monotonic() + self.close_timeout_s
        closes = [(w, w.request("close")) for w in self.workers.values()]
        for name, emitter in self.direct.items():
            self._direct(name, emitter.close)
        for w, done in closes:
            done.wait(max(0.0, deadline - time.monotonic()))
            w.stop(max(0.0, deadline - time.monotonic()))

    def _direct(self, name: str, fn, *args: object) -> None:
        try:
            fn(*args)
        except Exception as exc:
            self.direct_failures[name] = self.direct_failures.get(name, 0) + 1
            logger.warning("telemetry sink %s failed: %s", name, type(exc).__name__)
