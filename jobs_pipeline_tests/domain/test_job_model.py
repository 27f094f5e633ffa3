"""The job model: partition keys, context normalisation, the queue message round trip."""

import uuid

import pytest
from pydantic import ValidationError

from jobs_pipeline.domain.model import JobContext, Tier, ValidationJob, partition_key


def test_partition_key_uses_unknown_for_missing_parts():
    assert partition_key("google_merchant", None, "") == "google_merchant:unknown:unknown"
    assert partition_key("Amazon", " Electronics ", "br") == "amazon:electronics:BR"


@pytest.mark.parametrize("bad", ["a:b", "two words", "x/y"])
def test_segments_with_separators_are_refused(bad):
    with pytest.raises(ValidationError):
        JobContext(marketplace=bad)


@pytest.mark.parametrize("field", ["marketplace", "category", "region"])
@pytest.mark.parametrize("dots", [".", "..", "...", " .. "])
def test_dot_only_segments_are_refused(field, dots):
    with pytest.raises(ValidationError, match="dots"):
        JobContext(**{"marketplace": "amazon", field: dots})
    assert JobContext(marketplace="a.b", category=".x", region="x.").partition_key == "a.b:.x:X."


def test_context_never_has_an_empty_segment():
    ctx = JobContext(marketplace="shopee", category="  ", region=None)
    assert ctx.partition_key == "shopee:unknown:unknown"
    assert all(ctx.partition_key.split(":"))


def test_job_message_round_trip_is_json_and_lossless():
    job = ValidationJob(feed_uri="/tmp/f.csv", context=JobContext(marketplace="amazon", tier="pro"))
    body = job.to_message()
    assert body["schema_version"] == 1
    assert isinstance(body["job_id"], str) and isinstance(body["enqueued_at"], str)
    again = ValidationJob.from_message(body)
    assert again == job
    assert again.tier is Tier.PRO and isinstance(again.job_id, uuid.UUID)


def test_naive_enqueue_time_is_taken_as_utc():
    from datetime import datetime

    job = ValidationJob(feed_uri="f", context=JobContext(marketplace="m"), enqueued_at=datetime(2026, 1, 1))
    assert job.enqueued_at.utcoffset().total_seconds() == 0
