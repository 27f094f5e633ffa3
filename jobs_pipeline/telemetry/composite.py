"""Fan-out to several emitters: one failing sink never fails the others or the job."""

import logging
from collections.abc import Sequence

from jobs_pipeline.telemetry.emitter import TelemetryEmitter
from jobs_pipeline.telemetry.events import TelemetryEvent

logger = logging.getLogger(__name__)


class CompositeTelemetryEmitter:
    def __init__(self, emitters: Sequence[TelemetryEmitter]) -> None:
        self.emitters = list(emitters)
        self.failures: dict[str, int] = {}

    def _each(self, action: str, *args: object) -> None:
        for emitter in self.emitters:
            try:
                getattr(emitter, action)(*args)
            except Exception as exc:  # a sink's failure is its own, never the job's
                name = type(emitter).__name__
                self.failures[name] = self.failures.get(name, 0) + 1
                logger.warning("telemetry sink %s failed on %s: %s: %s", name, action, type(exc).__name__, exc)

    def emit(self, event: TelemetryEvent) -> None:
        self._each("emit", event)

    def flush(self) -> None:
        self._each("flush")

    def close(self) -> None:
        self._each("close")
