"""Publish throughput (jobs/s) per backend, single ``publish`` vs ``publish_batch``, in one run.

Starts its own redis-server and moto server (as the tests do). Queues are purged between
measurements and kept shallow (N <= 100): moto's SQS scans every message per call, so its
figures are far below real SQS and must never be quoted as SQS's.

    .venv/bin/python bench/publish_bench.py [N]
"""

import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from jobs_pipeline.domain.model import JobContext, ValidationJob  # noqa: E402
from jobs_pipeline.queue.celery_publisher import CeleryQueuePublisher  # noqa: E402
from jobs_pipeline.queue.memory import InMemoryQueuePublisher  # noqa: E402
from jobs_pipeline.queue.publisher import QueueMessage  # noqa: E402
from jobs_pipeline.queue.sqs import SQSQueuePublisher, sqs_client  # noqa: E402
from jobs_pipeline_tests import services  # noqa: E402


def messages(n: int) -> list[QueueMessage]:
    return [QueueMessage.for_job(ValidationJob(feed_uri=f"/feeds/{i}.csv", context=JobContext(
        marketplace="google_merchant", category="electronics", region="BR", tier="pro" if i % 4 == 0 else "free")))
        for i in range(n)]


def measure(publish, batch: list[QueueMessage], mode: str) -> float:
    start = time.perf_counter()
    if mode == "single":
        for m in batch:
            publish.publish(m)
    else:
        publish.publish_batch(batch)
    return len(batch) / (time.perf_counter() - start)


def main(n: int = 100) -> None:
    import os

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    rows = []
    with services.redis_server() as redis, services.moto_server() as moto:
        client = sqs_client(region="us-east-1", endpoint_url=moto.endpoint_url)

        def sqs(fifo: bool) -> SQSQueuePublisher:
            s = uuid.uuid4().hex[:6]
            urls = {t: client.create_queue(QueueName=f"bench-{t}-{s}" + (".fifo" if fifo else ""),
                                           Attributes={"FifoQueue": "true"} if fifo else {})["QueueUrl"]
                    for t in ("free", "pro")}
            return SQSQueuePublisher(urls, client=client)

        factories = {
            "memory": InMemoryQueuePublisher,
            "celery (redis)": lambda: CeleryQueuePublisher(redis.url, {"free": f"b-free-{uuid.uuid4().hex[:6]}",
                                                                      "pro": f"b-pro-{uuid.uuid4().hex[:6]}"}),
            "sqs standard (moto)": lambda: sqs(False),
            "sqs fifo (moto)": lambda: sqs(True),
        }
        for name, factory in factories.items():
            figures = []
            for mode in ("single", "batch"):
                publisher = factory()  # fresh, empty queues: depth never exceeds n
                publisher.publish(messages(1)[0])  # warm the connection
                figures.append(measure(publisher, messages(n), mode))
                publisher.close()
            rows.append((name, *figures))
    print(f"| backend | single publish (jobs/s) | publish_batch (jobs/s) |  (N={n} per measurement)")
    print("|---|---|---|")
    for name, single, batch in rows:
        print(f"| {name} | {single:,.0f} | {batch:,.0f} |")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100)
