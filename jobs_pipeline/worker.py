"""The Celery worker: consumes the ``pro`` and ``free`` queues and runs ``JobService.run``.

Start it with::

    CELERY_BROKER_URL=redis://host:6379/0 celery -A jobs_pipeline.worker worker -Q pro,free

``-Q pro,free`` lists ``pro`` first, and the Redis transport polls queues in that fixed
order (``queue_order_strategy=priority``), so a waiting pro job is always taken before a
free one. This module only wraps the core: the task body is ``JobService.run``.

Delivery guarantees (docs/queue-migration.md, docs/deployment.md):

- ``acks_late``: a message is acknowledged after the job ran, so a worker that dies
  mid-job leaves it on the broker;
- ``reject_on_worker_lost``: if the child process running the job is killed (OOM, SIGKILL),
  the message is requeued instead of acked (Celery's default would ack and lose it);
- a worker host that disappears entirely leaves the message unacked; Redis redelivers it
  after ``CELERY_VISIBILITY_TIMEOUT_S`` (must exceed the longest job);
- the job is idempotent by ``job_id``: event ids are deterministic, the tables de-duplicate
  them and keep one row per job, so a redelivered job counts once;
- JSON only: a pickled message is refused, never executed;
- a body that is not a valid job is logged and rejected without requeue (never retried
  forever, never run with guessed fields).
"""

import logging
import os
from typing import Any

from celery import Celery
from celery.exceptions import Reject
from pydantic import ValidationError

from jobs_pipeline.domain.model import ValidationJob
from jobs_pipeline.domain.retry import ExponentialRetryPolicy, JobRetryRequested
from jobs_pipeline.jobs.service import JobService
from jobs_pipeline.queue.celery_publisher import JSON_ONLY
from jobs_pipeline.queue.publisher import VALIDATE_FEED_TASK
from jobs_pipeline.queue.queue_factory import build_publisher
from jobs_pipeline.jobs.reports import report_store_from_settings
from jobs_pipeline.domain.errors import SettingsError
from jobs_pipeline.settings import Settings, load_settings
from jobs_pipeline.telemetry.factory import build_emitter
from jobs_pipeline.validation.sources import limits_from_settings

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


settings = load_settings()
app = make_app(settings)

_services: dict[int, JobService] = {}


def build_service(settings: Settings) -> JobService:
    """The worker's JobService: same telemetry factory and retry policy as Dagster."""
    return JobService(
        build_publisher(settings),
        build_emitter(settings.sinks, lake_dir=settings.lake_uri, settings=settings, component="worker"),
        retry_policy=ExponentialRetryPolicy.from_settings(settings),
        progress_every=settings.progress_every_records,
        sample_limit=settings.sample_errors_limit,
        report_store=report_store_from_settings(settings),  # JOBS_PIPELINE_REPORTS_URI / _DIR, as in Dagster
        read_limits=limits_from_settings(settings),  # FEED_* limits, as in Dagster and the CLI
    )


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
