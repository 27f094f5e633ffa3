"""sqs_jobs_sensor against moto: validate_feeds batches per tier, pro before free, bounded ticks,
bad messages left, delete only once the batch's run is recorded, redeliveries not run twice."""

import json

import dagster as dg

from jobs_pipeline.defs.resources.queue import SQSQueueResource
from jobs_pipeline.defs.feeds.batches import PRIORITY, feeds_of, jobs_run_key
from jobs_pipeline.defs.feeds.sqs_sensor import SENSOR_NAME, sqs_jobs_sensor
from jobs_pipeline.domain.model import JobContext, ValidationJob
from jobs_pipeline.queue.publisher import QueueMessage
from jobs_pipeline.queue.sqs import SQSQueuePublisher, sqs_client
from jobs_pipeline_tests.dagster_helpers import batch_feeds
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
        keys = [f["job_id"] for f in batch_feeds(first.run_requests)]
        # budget 5: the 4 pro messages (one unparseable) come before any free one
        assert set(keys[:3]) == {m.message_id for m in pro} and len(keys) == 4
        assert keys[3] in {m.message_id for m in free}
        # one validate_feeds run per tier, pro first, keyed by its jobs' ids
        assert [r.tags["tier"] for r in first.run_requests] == ["pro", "free"]
        assert all(r.tags["tier"] == ("pro" if f["job_id"] in keys[:3] else "free")
                   for r in first.run_requests for f in feeds_of(r))
        assert all(r.job_name == "validate_feeds" and r.tags["dagster/priority"] == PRIORITY[r.tags["tier"]]
                   for r in first.run_requests)
        assert first.run_requests[0].run_key == jobs_run_key([ValidationJob.from_message(m.body) for m in pro])
        assert depth(client, urls["pro"]) == (0, 4)  # nothing deleted yet: no run recorded

        # record the pro batch's run only (as the daemon would), then tick again
        pro_run, free_run = first.run_requests
        instance.create_run_for_job(job_def=_noop_job, tags={**pro_run.tags, "dagster/run_key": pro_run.run_key,
                                                             "dagster/sensor_name": SENSOR_NAME})
        second = tick(instance, resource, first.cursor)
        # the budget left (5 - 1 waiting) takes the 2 other free jobs; none of the first tick's runs again
        (later,) = second.run_requests
        assert {f["job_id"] for f in feeds_of(later)} == {m.message_id for m in free} - {keys[3]}
        pending = {p["run_key"]: len(p["messages"]) for p in json.loads(second.cursor)["pending"]}
        assert pending == {free_run.run_key: 1, later.run_key: 2}  # still waiting for their runs
        assert depth(client, urls["pro"]) == (0, 1)  # 3 deleted; the bad message remains
        assert depth(client, urls["free"]) == (0, 3)


def test_a_redelivered_job_waits_for_its_batch_and_is_deleted_with_it(moto_server) -> None:
    client = sqs_client(region="us-east-1", endpoint_url=moto_server.endpoint_url)
    urls = create_sqs_queues(client, fifo=False)
    pub = SQSQueuePublisher(urls, client=client)
    job = msg("pro")
    pub.publish(job)
    resource = SQSQueueResource(queue_url_free=urls["free"], queue_url_pro=urls["pro"], region="us-east-1",
                                endpoint_url=moto_server.endpoint_url)
    with dg.instance_for_test() as instance:
        first = tick(instance, resource, None)
        assert [f["job_id"] for f in batch_feeds(first.run_requests)] == [job.message_id]
        pub.publish(job)  # the same job again (a client retry) before its run is recorded
        second = tick(instance, resource, first.cursor)
        assert not second.run_requests
        assert [len(p["messages"]) for p in json.loads(second.cursor)["pending"]] == [2]
        (request,) = first.run_requests
        instance.create_run_for_job(job_def=_noop_job, tags={**request.tags, "dagster/run_key": request.run_key,
                                                             "dagster/sensor_name": SENSOR_NAME})
        third = tick(instance, resource, second.cursor)
        assert not third.run_requests and json.loads(third.cursor)["pending"] == []
        assert depth(client, urls["pro"]) == (0, 0)
        pub.publish(job)  # and after its run: deleted, not run again
        fourth = tick(instance, resource, third.cursor)
        assert not fourth.run_requests and depth(client, urls["pro"]) == (0, 0)


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
