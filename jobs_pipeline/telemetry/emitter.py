"""The emitter protocol every telemetry sink implements."""

from typing import Protocol, runtime_checkable

from jobs_pipeline.telemetry.events import TelemetryEvent


@runtime_checkable
class TelemetryEmitter(Protocol):
    """Sends events somewhere. ``emit`` must be cheap (no network on the job's hot path);
    ``flush`` makes everything emitted so far durable/visible; ``close`` flushes and releases."""

    def emit(self, event: TelemetryEvent) -> None: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...
