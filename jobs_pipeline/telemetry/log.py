"""Structured-logging emitter: one JSON line per event on the ``jobs_pipeline.events`` logger."""

import json
import logging

from jobs_pipeline.telemetry.events import TelemetryEvent, require_valid

logger = logging.getLogger("jobs_pipeline.events")


class LogTelemetryEmitter:
    wait_on_flush = False  # nothing to make durable

    def __init__(self, level: int = logging.INFO, log: logging.Logger | None = None) -> None:
        self.level = level
        self.log = log or logger

    def emit(self, event: TelemetryEvent) -> None:
        require_valid(event)
        if self.log.isEnabledFor(self.level):
            self.log.log(self.level, json.dumps(event.to_json_dict(), separators=(",", ":")))

    def flush(self) -> None:
        return None

    def close(self) -> None:
        return None
