"""Telemetry events: the guaranteed payload and deterministic ids."""

import uuid
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from jobs_pipeline.domain.model import JobContext, ValidationJob
from jobs_pipeline.telemetry.events import EventType, TelemetryEvent, event_id_for, make_event

MINIMAL = {"job_id", "task", "timestamp", "marketplace", "category", "region", "metrics"}


@pytest.fixture
def job():
    return ValidationJob(feed_uri="f", context=JobContext(marketplace="google_merchant", region="br"))


@pytest.mark.parametrize("event_type", list(EventType))
def test_every_event_carries_the_minimal_payload(job, event_type):
    event = make_event(job, event_type, attempt=1, sequence=0, metrics={"records_total": 0})
    data = event.to_json_dict()
    assert MINIMAL | {"event_id", "partition_key", "attempt"} <= set(data)
    assert data["partition_key"] == "google_merchant:unknown:BR"
    assert data["timestamp"].endswith("Z") and datetime.fromisoformat(data["timestamp"]).tzinfo is not None


def test_event_ids_are_deterministic_and_distinct(job):
    a = make_event(job, EventType.STARTED, attempt=1, sequence=0, metrics={})
    b = make_event(job, EventType.STARTED, attempt=1, sequence=0, metrics={"x": 1})
    assert a.event_id == b.event_id == event_id_for(job.job_id, "job.started", 1, 0)
    others = {event_id_for(job.job_id, t, att, seq) for t in EventType for att in (1, 2) for seq in (0, 1)}
    assert len(others) == len(EventType) * 4
    assert event_id_for(uuid.uuid4(), "job.started", 1, 0) != a.event_id


def test_a_half_event_is_refused(job):
    data = make_event(job, EventType.COMPLETED, attempt=1, sequence=1, metrics={}).model_dump()
    for key in MINIMAL:
        broken = {k: v for k, v in data.items() if k != key}
        with pytest.raises(ValidationError):
            TelemetryEvent(**broken)


def test_naive_timestamps_and_unknown_keys_are_refused(job):
    data = make_event(job, EventType.STARTED, attempt=1, sequence=0, metrics={}).model_dump()
    with pytest.raises(ValidationError):
        TelemetryEvent(**{**data, "timestamp": datetime(2026, 1, 1)})
    with pytest.raises(ValidationError):
        TelemetryEvent(**{**data, "surprise": 1})
    assert TelemetryEvent(**{**data, "timestamp": datetime(2026, 1, 1, tzinfo=UTC)}).timestamp.year == 2026
