"""SQS specifics against moto's server: batch sizes, failed entries, FIFO ids, attributes."""

import json

import pytest

from jobs_pipeline.domain.model import MESSAGE_SCHEMA_VERSION, JobContext, ValidationJob
from jobs_pipeline.queue.batching import BatchPublishError
from jobs_pipeline.queue.publisher import QueueMessage
from jobs_pipeline.queue.sqs import SQSQueuePublisher, encode, encoded_size, sqs_client
from jobs_pipeline_tests.queue.harness import create_sqs_queues


def job(tier: str = "free", category: str = "electronics", feed_uri: str = "/feeds/x.csv") -> QueueMessage:
    return QueueMessage.for_job(ValidationJob(feed_uri=feed_uri, context=JobContext(
        marketplace="google_merchant", category=category, region="BR", tier=tier)))


@pytest.fixture
def client(moto_server):
    c = sqs_client(region="us-east-1", endpoint_url=moto_server.endpoint_url)
    yield c
    c.close()


class FaultyClient:
    """The real moto client, with one entry of the next batch call made to fail.

    ``sender_fault=True``: the entry is sent with an invalid DelaySeconds, so moto itself
    answers 200 with it in ``Failed``. ``False``: the entry is withheld and reported as an
    SQS-side ``InternalError`` (moto cannot produce one), as SQS does under load.
    """

    def __init__(self, client, *, sender_fault: bool) -> None:
        self._client = client
        self.sender_fault = sender_fault
        self.batch_calls: list[int] = []
        self.single_calls = 0
        self._armed = True

    def __getattr__(self, name):
        return getattr(self._client, name)

    def send_message(self, **kwargs):
        self.single_calls += 1
        return self._client.send_message(**kwargs)

    def send_message_batch(self, QueueUrl, Entries):
        self.batch_calls.append(len(Entries))
        if not self._armed:
            return self._client.send_message_batch(QueueUrl=QueueUrl, Entries=Entries)
        self._armed = False
        victim = Entries[1]
        if self.sender_fault:
            return self._client.send_message_batch(
                QueueUrl=QueueUrl, Entries=[{**e, "DelaySeconds": 901} if e is victim else e for e in Entries])
        answer = self._client.send_message_batch(QueueUrl=QueueUrl, Entries=[e for e in Entries if e is not victim])
        answer.setdefault("Failed", []).append(
            {"Id": victim["Id"], "SenderFault": False, "Code": "InternalError", "Message": "injected"})
        return answer


def drain(client, url: str) -> list[dict]:
    out = []
    while True:
        msgs = client.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"],
                                      VisibilityTimeout=30).get("Messages", [])
        if not msgs:
            return out
        out += msgs


def test_batches_have_at_most_10_entries_and_stay_under_the_byte_limit(client) -> None:
    urls = create_sqs_queues(client, fifo=False)
    spy = FaultyClient(client, sender_fault=False)
    spy._armed = False
    messages = [job("free", feed_uri="/feeds/" + "x" * 900 + f"{i}.csv") for i in range(25)]
    one = encoded_size(encode(messages[0], urls["free"]))
    limit = one * 4 + 10  # room for 4 messages per call
    publisher = SQSQueuePublisher(urls, client=spy, max_batch_bytes=limit)
    receipts = publisher.publish_batch(messages)
    assert len(receipts) == 25 and all(r.broker_message_id for r in receipts)
    assert spy.batch_calls == [4, 4, 4, 4, 4, 4, 1]
    default = SQSQueuePublisher(urls, client=spy)
    spy.batch_calls.clear()
    default.publish_batch([job("pro") for _ in range(23)])
    assert spy.batch_calls == [10, 10, 3]
    assert len(drain(client, urls["free"])) == 25


def test_a_message_over_the_byte_limit_is_reported_not_sent(client) -> None:
    urls = create_sqs_queues(client, fifo=False)
    publisher = SQSQueuePublisher(urls, client=client, max_batch_bytes=2048)
    big, small = job("free", feed_uri="/f/" + "y" * 4000), job("free")
    with pytest.raises(BatchPublishError) as err:
        publisher.publish_batch([small, big])
    assert [f.message.message_id for f in err.value.failed] == [big.message_id]
    assert [r.message_id for r in err.value.published] == [small.message_id]
    assert err.value.backend == "sqs" and err.value.queue == urls["free"]


def test_sender_fault_entry_is_reported_and_the_rest_are_queued(client) -> None:
    urls = create_sqs_queues(client, fifo=False)
    faulty = FaultyClient(client, sender_fault=True)
    messages = [job("free") for _ in range(5)]
    with pytest.raises(BatchPublishError) as err:
        SQSQueuePublisher(urls, client=faulty).publish_batch(messages)
    assert [f.message.message_id for f in err.value.failed] == [messages[1].message_id]
    assert err.value.failed[0].sender_fault is True and err.value.failed[0].code
    assert faulty.single_calls == 0  # the same bytes would fail again: not retried
    queued = {m["MessageAttributes"]["message_id"]["StringValue"] for m in drain(client, urls["free"])}
    assert queued == {m.message_id for m in messages} - {messages[1].message_id}


def test_sqs_side_failure_of_one_entry_is_retried_alone(client) -> None:
    urls = create_sqs_queues(client, fifo=False)
    faulty = FaultyClient(client, sender_fault=False)
    messages = [job("pro") for _ in range(5)]
    receipts = SQSQueuePublisher(urls, client=faulty).publish_batch(messages)
    assert [r.message_id for r in receipts] == [m.message_id for m in messages]
    assert faulty.single_calls == 1
    queued = [m["MessageAttributes"]["message_id"]["StringValue"] for m in drain(client, urls["pro"])]
    assert sorted(queued) == sorted(m.message_id for m in messages)


def test_fifo_uses_partition_key_group_and_job_id_dedup_and_attributes(client) -> None:
    urls = create_sqs_queues(client, fifo=True)
    publisher = SQSQueuePublisher(urls, client=client)
    a, b = job("pro", category="electronics"), job("pro", category="apparel")
    publisher.publish_batch([a, b])
    publisher.publish(a)  # re-publish within the dedup window: dropped by SQS
    msgs = client.receive_message(QueueUrl=urls["pro"], MaxNumberOfMessages=10, MessageAttributeNames=["All"],
                                  MessageSystemAttributeNames=["All"]).get("Messages", [])
    assert len(msgs) == 2
    by_id = {m["MessageAttributes"]["message_id"]["StringValue"]: m for m in msgs}
    got = by_id[a.message_id]
    assert got["Attributes"]["MessageGroupId"] == a.partition_key == "google_merchant:electronics:BR"
    assert got["Attributes"]["MessageDeduplicationId"] == a.message_id
    attrs = {k: v["StringValue"] for k, v in got["MessageAttributes"].items()}
    assert attrs["tier"] == "pro" and attrs["partition_key"] == a.partition_key
    assert attrs["schema_version"] == str(MESSAGE_SCHEMA_VERSION)
    assert ValidationJob.from_message(json.loads(got["Body"])).job_id == ValidationJob.from_message(a.body).job_id
