"""The SQS clients (publisher and the sensor's receiver) install the botocore log redaction
themselves, like the S3 client: a role's session token never reaches DEBUG logs."""

import logging
from collections.abc import Iterator

import boto3
import pytest

from jobs_pipeline.defs.resources.queue import SQSQueueResource
from jobs_pipeline.domain.model import JobContext, ValidationJob
from jobs_pipeline.queue.publisher import QueueMessage
from jobs_pipeline.queue.sqs import SQSQueuePublisher
from jobs_pipeline.queue.sqs_receiver import receive
from jobs_pipeline.settings import load_settings
from jobs_pipeline.storage.log_redaction import LOGGERS, RedactAwsCredentials

SECRET = "zSECRETsqs3Kd-do-not-leak-Wq5"
TOKEN = "zTOKENsqs7Hb-do-not-leak-Lp2"
REDACTED_HEADER = "X-Amz-Security-Token': b'***'"


def redaction_installed() -> bool:
    return any(isinstance(f, RedactAwsCredentials) for f in logging.getLogger("botocore.endpoint").filters)


@pytest.fixture
def without_redaction() -> Iterator[None]:
    """Start from loggers without the filter (another test may have installed it), so only the
    SQS code path under test can install it."""

    def remove() -> None:
        for name in LOGGERS:
            logger = logging.getLogger(name)
            for f in [f for f in logger.filters if isinstance(f, RedactAwsCredentials)]:
                logger.removeFilter(f)

    remove()
    yield remove
    from jobs_pipeline.storage import log_redaction

    log_redaction.install()


def test_sqs_publisher_and_receiver_redact_the_session_token(moto_server, data_dir, monkeypatch, caplog,
                                                             without_redaction) -> None:
    setup = boto3.client("sqs", endpoint_url=moto_server.endpoint_url, region_name="us-east-1")
    urls = {t: setup.create_queue(QueueName=f"redact-{t}-{n}")["QueueUrl"]
            for t, n in (("free", id(setup)), ("pro", id(setup)))}
    outcome_urls = {t: setup.create_queue(QueueName=f"redact-{t}-outcomes-{id(setup)}")["QueueUrl"]
                    for t in ("free", "pro")}
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_SESSION_TOKEN", TOKEN)
    assert not redaction_installed()
    caplog.set_level(logging.DEBUG)

    # the producer: built from settings, as a deployment does
    settings = load_settings(queue_backend="sqs", aws_region="us-east-1", sqs_endpoint_url=moto_server.endpoint_url,
                             sqs_queue_free_url=urls["free"], sqs_queue_pro_url=urls["pro"],
                             sqs_outcome_queue_free_url=outcome_urls["free"],
                             sqs_outcome_queue_pro_url=outcome_urls["pro"])
    publisher = SQSQueuePublisher.from_settings(settings)
    message = QueueMessage.for_job(ValidationJob(feed_uri="/f.csv", context=JobContext(marketplace="amazon",
                                                                                         tier="pro")))
    publisher.publish(message)
    assert redaction_installed()
    assert REDACTED_HEADER in caplog.text  # botocore did log the signed request, token redacted
    assert TOKEN not in caplog.text and SECRET not in caplog.text

    # the consumer: the sensor's client, from its resource
    without_redaction()
    caplog.clear()
    resource = SQSQueueResource(queue_url_free=urls["free"], queue_url_pro=urls["pro"], region="us-east-1",
                                endpoint_url=moto_server.endpoint_url)
    [received] = receive(resource.get_client(), urls["pro"], max_messages=1, visibility_timeout_s=30)
    assert received.attributes["message_id"] == message.message_id
    assert redaction_installed()
    assert REDACTED_HEADER in caplog.text
    texts = [caplog.text] + [r.getMessage() for r in caplog.records]
    assert all(TOKEN not in t and SECRET not in t for t in texts)
