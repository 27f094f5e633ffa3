"""CloudEvents 1.0, structured JSON mode: how our events look on the wire.

``id`` is our deterministic ``event_id``, ``subject`` the job, ``partitionkey`` the
``marketplace:category:region`` key, ``attempt`` the job attempt and ``data`` the validated
:class:`TelemetryEvent` (docs/events.md).
"""

import json
from dataclasses import dataclass
from typing import Any

from jobs_pipeline.telemetry.bounds import MAX_EVENT_BYTES, bound_metrics
from jobs_pipeline.telemetry.events import TelemetryEvent

SPECVERSION = "1.0"
DATACONTENTTYPE = "application/json"
STRUCTURED_CONTENT_TYPE = "application/cloudevents+json"
BATCH_CONTENT_TYPE = "application/cloudevents-batch+json"
DEFAULT_TYPE_NAMESPACE = "io.jobspipeline"
DEFAULT_SOURCE = "urn:jobs-pipeline:local:jobs"


class EventTooLargeError(ValueError):
    """An event that cannot be brought under :data:`MAX_EVENT_BYTES` (a programming error)."""


@dataclass(frozen=True)
class CloudEventsConfig:
    """``source`` names the component and environment (``urn:jobs-pipeline:<env>:<component>``);
    ``type_namespace`` is the reverse-DNS prefix of ``type``."""

    source: str = DEFAULT_SOURCE
    type_namespace: str = DEFAULT_TYPE_NAMESPACE

    def type_of(self, event_type: str) -> str:
        return f"{self.type_namespace}.jobs.{event_type}.v1"


def source_for(deployment: str, component: str, prefix: str = "urn:jobs-pipeline") -> str:
    return f"{prefix}:{deployment}:{component}"


def attributes(event: TelemetryEvent, config: CloudEventsConfig) -> dict[str, Any]:
    return {
        "specversion": SPECVERSION,
        "type": config.type_of(event.type.value),
        "source": config.source,
        "id": str(event.event_id),
        "subject": str(event.job_id),
        "time": _rfc3339(event),
        "datacontenttype": DATACONTENTTYPE,
        "partitionkey": event.partition_key,
        "attempt": event.attempt,
    }


def _rfc3339(event: TelemetryEvent) -> str:
    return event.timestamp.isoformat(timespec="microseconds").replace("+00:00", "Z")


def to_cloudevent(event: TelemetryEvent, config: CloudEventsConfig = CloudEventsConfig()) -> dict[str, Any]:
    """The structured CloudEvent as a dict (tests, docs; the sender uses :func:`encode`)."""
    return {**attributes(event, config), "data": event.to_json_dict()}


def encode(event: TelemetryEvent, config: CloudEventsConfig = CloudEventsConfig()) -> bytes:
    """One structured CloudEvent as compact UTF-8 JSON, guaranteed ≤ 64 KiB.

    An event over the limit is re-cut with an empty top list (counts and the report link
    stay); if even that is too big, :class:`EventTooLargeError` is raised.
    """
    # Assembled around pydantic's own serialiser: this runs for every event in the sender thread.
    head = json.dumps(attributes(event, config), separators=(",", ":"))[:-1]
    body = f'{head},"data":{event.model_dump_json()}}}'.encode()
    if len(body) <= MAX_EVENT_BYTES:
        return body
    smaller = event.model_copy(update={"metrics": bound_metrics(event.metrics, top_n=0)})
    body = f'{head},"data":{smaller.model_dump_json()}}}'.encode()
    if len(body) > MAX_EVENT_BYTES:
        raise EventTooLargeError(f"event {event.event_id} is {len(body)} bytes even without per-key maps")
    return body


def decode(raw: bytes | str | dict[str, Any]) -> TelemetryEvent:
    """Our event back from a structured CloudEvent (validated again)."""
    data = json.loads(raw) if isinstance(raw, (bytes, str)) else raw
    if data.get("specversion") != SPECVERSION:
        raise ValueError(f"not a CloudEvents {SPECVERSION} event")
    return TelemetryEvent.model_validate(data["data"])
