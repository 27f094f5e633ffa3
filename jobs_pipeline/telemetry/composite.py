"""``CompositeTelemetryEmitter``: fan-out where no sink can hold up another, or the job.

Each sink has its own bounded queue, thread and retry state. Failures of a best-effort sink
(log, HTTP with its own spool) are counted and logged; a durable sink (``wait_on_flush``,
the default: lake, DuckDB, memory) that lost events, or whose flush did not finish within
``flush_timeout_s``, makes ``flush`` raise :class:`TelemetryDeliveryError`. See docs/events.md.
"""

import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from jobs_pipeline.domain.backoff import backoff_delay
from jobs_pipeline.domain.errors import TelemetryDeliveryError
from jobs_pipeline.domain.transient import classify
from jobs_pipeline.telemetry.emitter import TelemetryEmitter
from jobs_pipeline.telemetry.events import TelemetryEvent, require_valid

logger = logging.getLogger(__name__)


def is_durable(emitter: object) -> bool:
    """A sink whose flush is a durability point (it does not say ``wait_on_flush = False``)."""
    return bool(getattr(emitter, "wait_on_flush", True))


@dataclass
class SinkStats:
    delivered: int = 0
    failures: int = 0
    dropped: int = 0
    retries: int = 0


class _Request:
    """A flush or close queued behind the events: what became of the events before it."""

    def __init__(self, accepted: int, dropped: int) -> None:
        self.done = threading.Event()
        self.accepted = accepted  # events queued since the previous flush
        self.failed = dropped  # events dropped on a full queue, then failed ones are added
        self.error: BaseException | None = None


class _SinkWorker:
    """One sink behind its own queue and thread."""

    def __init__(self, name: str, emitter: TelemetryEmitter, *, max_queue: int, max_attempts: int,
                 backoff_s: float, backoff_cap_s: float) -> None:
        self.name = name
        self.emitter = emitter
        self.durable = is_durable(emitter)
        self.max_queue = max_queue
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self.backoff_cap_s = backoff_cap_s
        self.stats = SinkStats()
        self._rng = random.Random()
        self._ops: deque[tuple[str, object]] = deque()
        self._cond = threading.Condition()
        self._waiting = False
        self._stop = False
        self._accepted = 0  # since the last flush request (under _cond)
        self._dropped = 0
        self._failed = 0  # since the last flush processed (worker thread only)
        self._last_error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"telemetry-{name}", daemon=True)
        self._thread.start()

    def put(self, event: TelemetryEvent) -> None:
        with self._cond:
            if len(self._ops) >= self.max_queue:
                self.stats.dropped += 1
                self._dropped += 1
                return
            self._accepted += 1
            self._ops.append(("emit", event))
            if self._waiting:
                self._cond.notify()

    def request(self, action: str) -> _Request:
        with self._cond:
            req = _Request(self._accepted, self._dropped)
            self._accepted = self._dropped = 0
            self._ops.append((action, req))
            self._cond.notify()
        return req

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
                    self._failed += 1
                continue
            req: _Request = arg  # type: ignore[assignment]
            try:
                if not self._call(getattr(self.emitter, action)):
                    self._failed = req.accepted  # an unfinished flush vouches for none of them
            finally:
                req.failed += self._failed
                req.error = self._last_error if req.failed else None
                self._failed, self._last_error = 0, None
                req.done.set()

    def _call(self, fn: Callable[..., object], *args: object) -> bool:
        for attempt in range(1, self.max_attempts + 1):
            try:
                fn(*args)
                return True
            except Exception as exc:  # counted here; a durable sink's loss surfaces in flush()
                verdict = classify(exc)
                if verdict.retryable and attempt < self.max_attempts and not self._stop:
                    self.stats.retries += 1
                    time.sleep(backoff_delay(attempt, base_s=self.backoff_s, cap_s=self.backoff_cap_s,
                                             rng=self._rng, retry_after_s=verdict.retry_after_s))
                    continue
                self.stats.failures += 1
                self._last_error = exc
                if self.stats.failures in (1, 10, 100) or self.stats.failures % 1000 == 0:
                    logger.warning("telemetry sink %s failed %d time(s); last: %s (%s)", self.name,
                                   self.stats.failures, type(exc).__name__, verdict.reason)
                return False
        return False


class CompositeTelemetryEmitter:
    def __init__(self, emitters: Sequence[TelemetryEmitter], *, max_queue: int = 100_000,
                 max_attempts: int = 3, backoff_s: float = 0.1, backoff_cap_s: float = 2.0,
                 flush_timeout_s: float = 5.0, close_timeout_s: float = 15.0) -> None:
        self.emitters = list(emitters)
        self.flush_timeout_s = flush_timeout_s
        self.close_timeout_s = close_timeout_s
        self.workers: dict[str, _SinkWorker] = {}
        self.direct: dict[str, TelemetryEmitter] = {}
        self.direct_failures: dict[str, int] = {}
        self._direct_lost: dict[str, tuple[int, BaseException]] = {}  # durable direct sinks, since flush
        for i, emitter in enumerate(self.emitters):
            name = type(emitter).__name__
            if name in self.workers or name in self.direct:
                name = f"{name}#{i}"
            if getattr(emitter, "nonblocking", False):
                self.direct[name] = emitter
            else:
                self.workers[name] = _SinkWorker(name, emitter, max_queue=max_queue, max_attempts=max_attempts,
                                                 backoff_s=backoff_s, backoff_cap_s=backoff_cap_s)
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
        """Flush every sink; wait (up to ``flush_timeout_s``) for the durable ones only.

        Raises :class:`TelemetryDeliveryError` when a durable sink lost events since the last
        flush or did not finish in time; best-effort sinks never fail the caller."""
        waits = []
        for w in self.workers.values():
            req = w.request("flush")
            if w.durable:
                waits.append((w.name, req))
        for name, emitter in self.direct.items():
            self._direct(name, emitter.flush)
        errors: list[TelemetryDeliveryError] = []
        for name, (count, exc) in self._direct_lost.items():
            errors.append(_delivery_error(name, count, exc))
        self._direct_lost.clear()
        deadline = time.monotonic() + self.flush_timeout_s
        for name, req in waits:
            if not req.done.wait(max(0.0, deadline - time.monotonic())):
                errors.append(TelemetryDeliveryError(name, failed_events=req.accepted + req.failed, timed_out=True,
                                                     detail=f"waited {self.flush_timeout_s:.1f}s"))
            elif req.failed:
                errors.append(_delivery_error(name, req.failed, req.error))
        for err in errors[1:]:  # the first is raised
            logger.error("%s", err)
        if errors:
            raise errors[0]

    def close(self) -> None:
        deadline = time.monotonic() + self.close_timeout_s
        closes = [(w, w.request("close")) for w in self.workers.values()]
        for name, emitter in self.direct.items():
            self._direct(name, emitter.close)
        for w, req in closes:
            req.done.wait(max(0.0, deadline - time.monotonic()))
            w.stop(max(0.0, deadline - time.monotonic()))

    def _direct(self, name: str, fn: Callable[..., object], *args: object) -> None:
        try:
            fn(*args)
        except Exception as exc:
            self.direct_failures[name] = self.direct_failures.get(name, 0) + 1
            logger.warning("telemetry sink %s failed: %s", name, type(exc).__name__)
            if is_durable(self.direct[name]):
                count, _ = self._direct_lost.get(name, (0, exc))
                self._direct_lost[name] = (count + 1, exc)


def _delivery_error(sink: str, failed: int, cause: BaseException | None) -> TelemetryDeliveryError:
    detail = f"last error: {type(cause).__name__}: {str(cause)[:200]}" if cause is not None else ""
    err = TelemetryDeliveryError(sink, failed_events=failed, detail=detail)
    err.__cause__ = cause
    return err
