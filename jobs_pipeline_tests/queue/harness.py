"""One harness per queue backend, so the conformance suite runs identically on each.

A harness builds a publisher on fresh queues (unique names / new SQS queues per test) and a
``probe`` that lists the message ids waiting on a queue (job or outcome queue) by looking at
the broker itself (Redis lists for Celery, SQS receive for SQS), not at the publisher.
"""

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from jobs_pipeline.queue.publisher import QueuePublisher

#: Every queue variable; the ``harness`` fixture clears them so the ambient environment never leaks in.
QUEUE_ENV = ["QUEUE_BACKEND", "CELERY_BROKER_URL", "SQS_QUEUE_FREE_URL", "SQS_QUEUE_PRO_URL", "SQS_ENDPOINT_URL",
             "AWS_REGION", "QUEUE_ROLLOUT_BACKEND", "QUEUE_ROLLOUT_PERCENT", "SQS_MAX_BATCH_BYTES",
             "SQS_OUTCOME_QUEUE_FREE_URL", "SQS_OUTCOME_QUEUE_PRO_URL", "PUBLISH_OUTCOMES",
             "QUEUE_NAME_OUTCOMES_FREE", "QUEUE_NAME_OUTCOMES_PRO"]


@dataclass
class Harness:
    name: str
    publisher: QueuePublisher
    probe: Callable[[str], list[str]]  # queue (as named by receipts) -> message ids waiting there
    broker_dedups: bool  # True when the broker itself drops a re-published id
    broken: Callable[[], QueuePublisher] | None = None  # a publisher whose broker is unreachable
    settings_env: dict[str, str] | None = None  # env for load_settings() with this backend


def memory_harness() -> Harness:
    from jobs_pipeline.queue.memory import InMemoryQueuePublisher

    suffix = uuid.uuid4().hex[:8]
    pub = InMemoryQueuePublisher({"free": f"free-{suffix}", "pro": f"pro-{suffix}"})
    return Harness("memory", pub, lambda q: [m.message_id for m in pub.messages(q)], broker_dedups=True,
                   settings_env={"QUEUE_BACKEND": "memory"})


def celery_harness(redis_url: str, dead_url: str) -> Harness:
    import redis

    from jobs_pipeline.queue.celery_publisher import CeleryQueuePublisher

    suffix = uuid.uuid4().hex[:8]
    names = {"free": f"free-{suffix}", "pro": f"pro-{suffix}"}
    pub = CeleryQueuePublisher(redis_url, names, retry_base_s=0.01)
    r = redis.Redis.from_url(redis_url)

    def probe(queue: str) -> list[str]:
        return [json.loads(raw)["headers"]["id"] for raw in reversed(r.lrange(queue, 0, -1))]

    return Harness("celery", pub, probe, broker_dedups=False,
                   broken=lambda: CeleryQueuePublisher(dead_url, names, max_attempts=2, retry_base_s=0.01),
                   settings_env={"QUEUE_BACKEND": "celery", "CELERY_BROKER_URL": redis_url})


def create_sqs_queues(client: Any, *, fifo: bool, suffix: str | None = None, **attrs: str) -> dict[str, str]:
    suffix = suffix or uuid.uuid4().hex[:8]
    urls = {}
    for tier in ("free", "pro"):
        name = f"{tier}-{suffix}" + (".fifo" if fifo else "")
        attributes = {"FifoQueue": "true"} if fifo else {}
        urls[tier] = client.create_queue(QueueName=name, Attributes={**attributes, **attrs})["QueueUrl"]
    return urls


def create_sqs_outcome_queues(client: Any, *, fifo: bool, suffix: str | None = None) -> dict[str, str]:
    """The tiers' outcome queues (``free-<suffix>-outcomes``…), apart from the job queues."""
    return create_sqs_queues(client, fifo=fifo, suffix=f"{suffix or uuid.uuid4().hex[:8]}-outcomes")


def sqs_harness(endpoint_url: str, *, fifo: bool, dead_endpoint: str) -> Harness:
    from jobs_pipeline.queue.sqs import SQSQueuePublisher, sqs_client

    client = sqs_client(region="us-east-1", endpoint_url=endpoint_url)
    urls = create_sqs_queues(client, fifo=fifo)
    outcome_urls = create_sqs_outcome_queues(client, fifo=fifo)
    pub = SQSQueuePublisher(urls, outcome_queue_urls=outcome_urls, client=client, retry_base_s=0.01)

    def probe(queue_url: str) -> list[str]:
        ids: list[str] = []
        while True:  # drains the queue (a FIFO group hides the rest while one batch is in flight)
            msgs = client.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=30,
                                          MessageAttributeNames=["All"]).get("Messages", [])
            if not msgs:
                break
            ids += [m["MessageAttributes"]["message_id"]["StringValue"] for m in msgs]
            client.delete_message_batch(QueueUrl=queue_url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(msgs)])
        return ids

    return Harness("sqs-fifo" if fifo else "sqs", pub, probe, broker_dedups=fifo,
                   broken=lambda: SQSQueuePublisher(urls, outcome_queue_urls=outcome_urls,
                                                    client=sqs_client(region="us-east-1", endpoint_url=dead_endpoint),
                                                    max_attempts=2, retry_base_s=0.01),
                   settings_env={"QUEUE_BACKEND": "sqs", "SQS_QUEUE_FREE_URL": urls["free"],
                                 "SQS_QUEUE_PRO_URL": urls["pro"], "SQS_ENDPOINT_URL": endpoint_url,
                                 "AWS_REGION": "us-east-1", "SQS_OUTCOME_QUEUE_FREE_URL": outcome_urls["free"],
                                 "SQS_OUTCOME_QUEUE_PRO_URL": outcome_urls["pro"]})
