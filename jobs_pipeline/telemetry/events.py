"""The five canonical job events and their guaranteed payload.

Every event carries at least ``{job_id, task, timestamp, marketplace, category, region,
metrics}`` plus ``event_id``, ``partition_key`` and ``attempt``. ``event_id`` is a UUIDv5 of
``job_id|type|attempt|sequence``: the same event re-sent (a redelivered job, a replayed
spool) has the same id, which is how the tables count it once.
"""

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_serializer, field_validator

from jobs_pipeline.domain.model import ValidationJob, utcnow
from jobs_pipeline.telemetry.bounds import bound_metrics

EVENT_SCHEMA_VERSION = 1
#: Namespace of event ids (fixed forever: changing it would change every id).
EVENT_NAMESPACE = uuid.UUID("0d3c7a52-5f0e-4f44-9a57-6f1b8b1f7c11")


class EventType(StrEnum):
    STARTED = "job.started"
    PROGRESS = "job.progress"
    RETRYING = "job.retrying"
    COMPLETED = "job.completed"
    FAILED = "job.failed"


def event_id_for(job_id: uuid.UUID | str, event_type: str, attempt: int, sequence: int) -> uuid.UUID:
    """Deterministic id: the same job, type, attempt and sequence always give the same id."""
    return uuid.uuid5(EVENT_NAMESPACE, f"{job_id}|{EventType(event_type).value}|{attempt}|{sequence}")


class ErrorInfo(BaseModel):
    """Why a job failed or is retrying."""

    model_config = ConfigDict(frozen=True)

    error_type: str
    message: str
    classification: str = "permanent"
    delay_s: float | None = None


class TelemetryEvent(BaseModel):
    """One job event. Extra keys are refused: the schema is the contract with analysts."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: uuid.UUID
    type: EventType
    job_id: uuid.UUID
    task: str = Field(min_length=1)
    timestamp: datetime
    marketplace: str = Field(min_length=1)
    category: str = Field(min_length=1)
    region: str = Field(min_length=1)
    partition_key: str = Field(pattern=r"^[^:]+:[^:]+:[^:]+$")
    attempt: int = Field(ge=1)
    sequence: int = Field(ge=0)
    ruleset: str | None = None
    tier: str
    metrics: dict[str, Any]
    error: ErrorInfo | None = None
    schema_version: int = EVENT_SCHEMA_VERSION

    @field_validator("timestamp")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("timestamp must be timezone-aware (UTC)")
        return value.astimezone(UTC)

    @field_serializer("timestamp")
    def _iso(self, value: datetime) -> str:
        return value.isoformat(timespec="microseconds").replace("+00:00", "Z")

    def to_json_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


#: Fields an event cannot be built without (the minimal payload and the identity fields).
REQUIRED_FIELDS = frozenset(name for name, f in TelemetryEvent.model_fields.items() if f.is_required())


class InvalidEventError(TypeError):
    """Something that is not a validated :class:`TelemetryEvent` reached an emitter.

    A programming error (e.g. ``model_construct`` skipping validation, or a plain dict):
    raised at once so a half-event is never sent.
    """


def require_valid(event: object) -> TelemetryEvent:
    """Every emitter's gate: only a fully validated event may leave (cheap: a type check and
    a set inclusion, so it stays on the hot path)."""
    if type(event) is not TelemetryEvent:
        raise InvalidEventError(f"expected a TelemetryEvent, got {type(event).__name__}")
    missing = REQUIRED_FIELDS - event.model_fields_set
    if missing:
        raise InvalidEventError(f"event {getattr(event, 'event_id', '?')} lacks {sorted(missing)}")
    return event


def make_event(
    job: ValidationJob,
    event_type: EventType,
    *,
    attempt: int,
    sequence: int,
    metrics: dict[str, Any],
    ruleset: str | None = None,
    error: ErrorInfo | None = None,
    timestamp: datetime | None = None,
) -> TelemetryEvent:
    ctx = job.context
    return TelemetryEvent(
        event_id=event_id_for(job.job_id, event_type, attempt, sequence),
        type=event_type,
        job_id=job.job_id,
        task=job.task,
        timestamp=timestamp or utcnow(),
        marketplace=ctx.marketplace,
        category=ctx.category,
        region=ctx.region,
        partition_key=ctx.partition_key,
        attempt=attempt,
        sequence=sequence,
        ruleset=ruleset or ctx.ruleset,
        tier=ctx.tier.value,
        metrics=bound_metrics(metrics),
        error=error,
    )
