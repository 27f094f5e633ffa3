"""Names of the queue backends (``QUEUE_BACKEND``) mapped to ``module:Class``.

Resolved lazily (as kombu does with its transports) so a backend's client library is
imported only when that backend is chosen: ``celery`` pulls in Celery/kombu, ``sqs`` boto3.
"""

QUEUE_BACKENDS: dict[str, str] = {
    "memory": "jobs_pipeline.queue.memory:InMemoryQueuePublisher",
    "celery": "jobs_pipeline.queue.celery_publisher:CeleryQueuePublisher",
    "sqs": "jobs_pipeline.queue.sqs:SQSQueuePublisher",
}
