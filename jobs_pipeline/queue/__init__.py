"""Queue publishing behind :class:`QueuePublisher`; backends are chosen by ``queue_factory``."""

from jobs_pipeline.queue.publisher import PublishReceipt, QueueMessage, QueuePublisher

__all__ = ["PublishReceipt", "QueueMessage", "QueuePublisher"]
