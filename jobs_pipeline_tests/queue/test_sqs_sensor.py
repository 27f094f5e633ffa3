"""sqs_jobs_sensor against moto: pro before free, bounded ticks, bad messages left, delete
only once the run is recorded."""

import json

import dagster as dg

from jobs_pipeline.defs.resources.queue import SQSQueueResource
from jobs_pipeline.defs.feeds.sqs_sensor import SENSOR_NAME, sqs_jobs_sensor
from jobs_pipeline.domain.model import JobContext, ValidationJob
from jobs_pipeline.queue.publisher import QueueMessage
from jobs_pipeline.queue.sqs import SQSQueuePublisher, sqs_client
from jobs_pipeline_tests.queue.harness import create_sqs_queues


def msg(tier: str) -> QueueMessage:
    return QueueMessage.for_job(ValidationJob(feed_uri="/f.csv", context=JobContext(marketplace="amazon", tier=tier)))


def tick(instance, resource, cursor):
    ctx = dg.build_sensor_context(instance=instance, cursor=cursor, sensor_name=SENSOR_NAME,
                                  resources={"sqs_jobs": resource})
    return sqs_jobs_sensor(ctx)


def depth(client, url) -> tuple[int, int]:
    a = client.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(a["ApproximateNumberOfMessages"]), int(a["ApproximateNumberOfMessagesNotVisible"])


def test_pro_first_bounded_bad_message_left_delete_after_recorded(moto_server) -> None:
    client = sqs_client(region="us-east-1", endpoint_url=moto_server.endpoint_url)
    urls = create_sqs_queues(client, fifo=False)
    pub = SQSQueuePublisher(urls, client=client)
    free, pro = [msg("free") for _ in range(3)], [msg("pro") for _ in range(3)]
    pub.publish_batch(free + pro)
    client.send_message(QueueUrl=urls["pro"], MessageBody="{not json", MessageAttributes={
        "task": {"DataType": "String", "StringValue": "jobs_pipeline.validate_feed"}})
    resource = SQSQueueResource(queue_url_free=urls["free"], queue_url_pro=urls["pro"], region="us-east-1",
                                endpoint_url=moto_server.endpoint_url, max_messages_per_tick=5)
    with dg.instance_for_test() as instance:
        first = tick(instance, resource, None)
        keys = [r.run_key for r in first.run_requests]
        # budget 5: the 4 pro messages (one unparseable) come before any free one
        assert set(keys[:3]) == {m.message_id for m in pro} and len(keys) == 4
        assert keys[3] in {m.message_id for m in free}
        assert all(r.tags["tier"] == ("pro" if r.run_key in keys[:3] else "free") for r in first.run_requests)
        assert depth(client, urls["pro"]) == (0, 4)  # nothing deleted yet: no run recorded

        # record the runs of two pro jobs only (as the daemon would), then tick again
        for r in first.run_requests[:2]:
            instance.create_run_for_job(job_def=_noop_job, tags={**r.tags, "dagster/run_key": r.run_key,
                                                                 "dagster/sensor_name": SENSOR_NAME})
        second = tick(instance, resource, first.cursor)
        pending = {p["job_id"] for p in json.loads(second.cursor)["pending"]}
        assert pending >= {r.run_key for r in first.run_requests[2:]}  # still waiting for their runs
        assert not pending & {r.run_key for r in first.run_requests[:2]}
        assert depth(client, urls["pro"]) == (0, 2)  # 2 deleted; 1 pending job + the bad message remain


@dg.op
def _noop() -> None:
    return None


@dg.job
def _noop_job() -> None:
    _noop()


def test_disabled_resource_skips() -> None:
    with dg.instance_for_test() as instance:
        result = tick(instance, SQSQueueResource(consume_jobs=False), None)
    assert not result.run_requests and "not a job backend" in (result.skip_reason.skip_message or "")
