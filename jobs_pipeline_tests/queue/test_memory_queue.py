"""InMemoryQueuePublisher: routing by tier, idempotent re-publish, thread safety."""

from concurrent.futures import ThreadPoolExecutor

from jobs_pipeline.domain.model import JobContext, ValidationJob
from jobs_pipeline.queue.memory import InMemoryQueuePublisher
from jobs_pipeline.queue.publisher import QueueMessage


def job(tier="free"):
    return ValidationJob(feed_uri="f", context=JobContext(marketplace="m", tier=tier))


def test_routes_by_tier_and_keeps_one_copy_per_message_id():
    q = InMemoryQueuePublisher()
    free, pro = QueueMessage.for_job(job()), QueueMessage.for_job(job("pro"))
    assert q.publish(free).queue == "free"
    assert q.publish(pro).queue == "pro"
    again = q.publish(free)
    assert again.duplicate and again.message_id == free.message_id
    assert len(q.messages("free")) == 1 and len(q.messages("pro")) == 1
    assert q.drain("pro") == [pro] and q.messages("pro") == []


def test_concurrent_publishes_lose_nothing():
    q = InMemoryQueuePublisher()
    messages = [QueueMessage.for_job(job()) for _ in range(400)]
    with ThreadPoolExecutor(8) as pool:
        receipts = list(pool.map(q.publish, messages))
    assert len({r.message_id for r in receipts}) == 400
    assert {m.message_id for m in q.messages("free")} == {m.message_id for m in messages}


def test_batch_publish_returns_a_receipt_per_message():
    q = InMemoryQueuePublisher()
    receipts = q.publish_batch([QueueMessage.for_job(job()) for _ in range(3)])
    assert [r.backend for r in receipts] == ["memory"] * 3
