"""Canonical job telemetry: the events, the emitter protocol and the emitters."""

from jobs_pipeline.telemetry.emitter import TelemetryEmitter
from jobs_pipeline.telemetry.events import EventType, TelemetryEvent, event_id_for

__all__ = ["EventType", "TelemetryEmitter", "TelemetryEvent", "event_id_for"]
