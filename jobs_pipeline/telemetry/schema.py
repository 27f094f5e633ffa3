"""The event contract as files: ``docs/events.schema.json`` and the examples of ``docs/events.md``.

The JSON Schema is generated from the one pydantic model (:class:`TelemetryEvent`) plus the
CloudEvents envelope, so it cannot drift from the code; a test regenerates it and compares.
Regenerate with ``python -m jobs_pipeline.telemetry.schema docs/events.schema.json``.
"""

import json
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jobs_pipeline.domain.model import JobContext, ValidationJob
from jobs_pipeline.telemetry.bounds import MAX_EVENT_BYTES
from jobs_pipeline.telemetry.cloudevents import (
    DATACONTENTTYPE, DEFAULT_TYPE_NAMESPACE, SPECVERSION, CloudEventsConfig, to_cloudevent,
)
from jobs_pipeline.telemetry.events import ErrorInfo, EventType, TelemetryEvent, make_event

SCHEMA_ID = "https://jobs-pipeline.example/schemas/job-event.v1.json"


def event_json_schema() -> dict[str, Any]:
    """JSON Schema of a CloudEvent carrying a job event in ``data``."""
    data = TelemetryEvent.model_json_schema(mode="serialization")
    defs = data.pop("$defs", {})
    defs["TelemetryEvent"] = data
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "Job event (CloudEvents 1.0, structured JSON)",
        "description": f"Serialised size at most {MAX_EVENT_BYTES} bytes.",
        "type": "object",
        "required": ["specversion", "type", "source", "id", "subject", "time", "datacontenttype",
                     "partitionkey", "attempt", "data"],
        "properties": {
            "specversion": {"const": SPECVERSION},
            "type": {"type": "string",
                     "pattern": r"^[a-z0-9.\-]+\.jobs\.job\.(started|progress|retrying|completed|failed)\.v1$",
                     "examples": [f"{DEFAULT_TYPE_NAMESPACE}.jobs.job.completed.v1"]},
            "source": {"type": "string", "minLength": 1},
            "id": {"type": "string", "format": "uuid"},
            "subject": {"type": "string", "format": "uuid"},
            "time": {"type": "string", "format": "date-time"},
            "datacontenttype": {"const": DATACONTENTTYPE},
            "partitionkey": {"type": "string", "pattern": r"^[^:]+:[^:]+:[^:]+$"},
            "attempt": {"type": "integer", "minimum": 1},
            "data": {"$ref": "#/$defs/TelemetryEvent"},
        },
        "additionalProperties": False,
        "$defs": defs,
    }


def render_schema() -> str:
    return json.dumps(event_json_schema(), indent=2, sort_keys=True) + "\n"


def example_events() -> dict[str, TelemetryEvent]:
    """One realistic event per type (fixed ids and times, so the docs are stable)."""
    job = ValidationJob(job_id=uuid.UUID("3f2b9c1e-8a4d-4f6b-9e2a-1c7d5b0e4a21"), feed_uri="s3://landing/feed.csv",
                        context=JobContext(marketplace="google_merchant", category="electronics", region="BR"))
    at = datetime(2026, 11, 29, 12, 0, 5, 250000, tzinfo=UTC)
    final = {"payload_size_bytes": 237093, "records_total": 1200, "records_valid": 1080, "records_error": 120,
             "records_warning": 30, "error_rate": 0.1, "warning_rate": 0.025,
             "errors_by_field": {"gtin": 70, "price": 50}, "processing_time_ms": 182.4, "latency_ms": 950.2,
             "error_report_uri": "s3://reports/3f2b9c1e-8a4d-4f6b-9e2a-1c7d5b0e4a21.jsonl"}
    err = ErrorInfo(error_type="StorageUnavailable", message="object store timed out", classification="transient",
                    delay_s=2.0)
    return {
        "job.started": make_event(job, EventType.STARTED, attempt=1, sequence=0,
                                  metrics={"payload_size_bytes": 237093, "processing_time_ms": 0.1}, timestamp=at),
        "job.progress": make_event(job, EventType.PROGRESS, attempt=1, sequence=1,
                                   metrics={"payload_size_bytes": 237093, "processing_time_ms": 90.0,
                                            "records_processed": 1000}, timestamp=at),
        "job.retrying": make_event(job, EventType.RETRYING, attempt=1, sequence=2,
                                   metrics={"payload_size_bytes": 237093, "processing_time_ms": 120.0},
                                   error=err, timestamp=at),
        "job.completed": make_event(job, EventType.COMPLETED, attempt=2, sequence=2, metrics=final, timestamp=at),
        "job.failed": make_event(job, EventType.FAILED, attempt=3, sequence=1,
                                 metrics={"payload_size_bytes": 0, "processing_time_ms": 3.2},
                                 error=ErrorInfo(error_type="FeedFormatError", message="the file is empty"),
                                 timestamp=at),
    }


EXAMPLE_CONFIG = CloudEventsConfig(source="urn:jobs-pipeline:prod:worker")


def example_cloudevents() -> dict[str, dict[str, Any]]:
    return {name: to_cloudevent(e, EXAMPLE_CONFIG) for name, e in example_events().items()}


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/events.schema.json")
    target.write_text(render_schema())
    if "--examples" in sys.argv:
        for name, ce in example_cloudevents().items():
            print(f"### `{name}`\n\n```json\n{json.dumps(ce, indent=2)}\n```\n")
