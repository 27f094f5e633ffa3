"""The Celery worker: consumes the ``pro`` and ``free`` queues and runs ``JobService.run``.

Start it with ``celery -A jobs_pipeline.worker worker -Q pro,free`` (pro polled first). Tasks
are acked late and requeued if the worker dies; a body that is not a job is rejected without
requeue; JSON only. Delivery guarantees: docs/queue-migration.md, docs/deployment.md.
"""

import logging
import os
from typing import Any

from celery import Celery
from celery.exceptions import Reject
from pydantic import ValidationError

from jobs_pipeline.domain.model import ValidationJob
from jobs_pipeline.domain.retry import JobRetryRequested
from jobs_pipeline.jobs import compose
from jobs_pipeline.jobs.service import JobService
from jobs_pipeline.queue.celery_publisher import JSON_ONLY
from jobs_pipeline.queue.publisher import VALIDATE_FEED_TASK
from jobs_pipeline.settings import Settings, SettingsError

logger = logging.getLogger(__name__)


def make_app(settings: Settings) -> Celery:
    if not settings.celery_broker_url:
        raise SettingsError("CELERY_BROKER_URL: the Celery worker needs a broker; set CELERY_BROKER_URL")
    app = Celery("jobs_pipeline", broker=settings.celery_broker_url)
    app.conf.update(
        **JSON_ONLY,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_ignore_result=True,
        worker_prefetch_multiplier=1,  # a long job never holds other jobs hostage
        task_default_queue=settings.queue_name_free,
        broker_connection_retry_on_startup=True,
        broker_transport_options={
            "visibility_timeout": settings.celery_visibility_timeout_s,
            "queue_order_strategy": "priority",  # poll queues in -Q order: pro before free
        },
        worker_hijack_root_logger=False,
    )
    return app


settings = compose.load_checked_settings()  # a wrong variable fails here, at import
compose.install_rulesets(settings)  # a refused team ruleset fails the worker here too, not a task
app = make_app(settings)

_services: dict[int, JobService] = {}


def build_service(settings: Settings) -> JobService:
    """The worker's JobService, built like Dagster's (its events say ``worker``)."""
    return compose.build_service(settings, component="worker")


def service() -> JobService:
    """One service per process, built in the process itself (after the pool forked), so
    every child has its own lake writer."""
    pid = os.getpid()
    if pid not in _services:
        _services[pid] = build_service(settings)
    return _services[pid]


@app.task(name=VALIDATE_FEED_TASK, bind=True, acks_late=True, reject_on_worker_lost=True)
def validate_feed(self: Any, body: dict[str, Any]) -> dict[str, Any]:
    try:
        job = ValidationJob.from_message(body)
    except (ValidationError, TypeError, ValueError) as exc:
        logger.error("task %s: body is not a validation job (%s); rejected without requeue",
                     self.request.id, type(exc).__name__)
        raise Reject(exc, requeue=False) from exc
    attempt = self.request.retries + 1
    try:
        outcome = service().run(job, attempt=attempt)
    except JobRetryRequested as exc:
        # RETRY SEAM: JobService.run classified the error (transient/throttled) and emitted
        # job.retrying; re-run this task later with the same id and attempt + 1.
        raise self.retry(exc=exc, countdown=exc.decision.delay_s,
                         max_retries=max(0, exc.decision.max_attempts - 1)) from exc
    return {"job_id": str(job.job_id), "status": outcome.status, "attempt": outcome.attempt}
