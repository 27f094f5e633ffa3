"""Names of the queue backends (``QUEUE_BACKEND``) mapped to ``module:Class``.

Resolved lazily (as kombu does with its transports) so a backend's client library is
imported only when that backend is chosen.
"""

QUEUE_BACKENDS: dict[str, str] = {
    "memory": "jobs_pipeline.queue.memory:InMemoryQueuePublisher",
}
