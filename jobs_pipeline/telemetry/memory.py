"""In-memory emitter for tests: keeps every event, inspectable."""

import threading

from jobs_pipeline.telemetry.events import EventType, TelemetryEvent, require_valid


class InMemoryTelemetryEmitter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: list[TelemetryEvent] = []

    def emit(self, event: TelemetryEvent) -> None:
        require_valid(event)
        with self._lock:
            self._events.append(event)

    def flush(self) -> None:
        return None

    def close(self) -> None:
        return None

    @property
    def events(self) -> list[TelemetryEvent]:
        with self._lock:
            return list(self._events)

    def of_type(self, event_type: EventType | str) -> list[TelemetryEvent]:
        return [e for e in self.events if e.type == EventType(event_type)]

    def types(self) -> list[str]:
        return [e.type.value for e in self.events]
