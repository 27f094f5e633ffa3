"""A queue message must carry its ``job_id``: a made-up one would count a redelivery twice."""

import json
import uuid

import pytest
from pydantic import ValidationError

from jobs_pipeline.domain.model import JobContext, ValidationJob
from jobs_pipeline.queue.sqs_receiver import ReceivedMessage


def _body(**change) -> dict:
    body = ValidationJob(feed_uri="/tmp/f.csv", context=JobContext(marketplace="amazon")).to_message()
    body.update(change)
    return {k: v for k, v in body.items() if v is not ...}


@pytest.mark.parametrize("job_id", [..., None, ""])
def test_a_message_without_job_id_is_refused(job_id):
    with pytest.raises(ValueError, match="no job_id"):
        ValidationJob.from_message(_body(job_id=job_id))


@pytest.mark.parametrize("job_id", ["not-a-uuid", 42, ["x"]])
def test_a_message_with_an_invalid_job_id_is_refused(job_id):
    with pytest.raises(ValidationError):
        ValidationJob.from_message(_body(job_id=job_id))


def test_a_message_that_is_not_an_object_is_refused():
    with pytest.raises(TypeError):
        ValidationJob.from_message(["not", "a", "job"])  # type: ignore[arg-type]


def test_a_valid_id_is_kept_exactly():
    body = _body()
    assert str(ValidationJob.from_message(body).job_id) == body["job_id"]
    assert str(ValidationJob.from_message(_body(job_id=str(uuid.UUID(int=7)))).job_id) == str(uuid.UUID(int=7))


@pytest.mark.parametrize("job_id", [..., None, "not-a-uuid"])
def test_the_sqs_path_refuses_the_same_messages(job_id):
    message = ReceivedMessage(queue_url="q", sqs_message_id="m", receipt_handle="h",
                              body=json.dumps(_body(job_id=job_id)), attributes={}, receive_count=1)
    with pytest.raises(ValueError):  # the sensor reports it and leaves it to the dead-letter policy
        message.job()
