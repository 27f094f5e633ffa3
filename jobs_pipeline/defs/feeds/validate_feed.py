"""The ``validate_feed`` job: describe the file -> ``JobService.run`` -> publish ``feed.validated``
on the tier's outcome queue.

Validation, metrics and events stay in the one ``JobService.run`` call that the Celery worker
and the CLI make too. A feed that fails validation publishes its outcome, then fails
``run_validation`` with its one-line reason. Steps run in the run's own process."""

import dataclasses
import stat
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import dagster as dg
from pydantic import Field

from jobs_pipeline.domain.model import JobContext, ValidationJob
from jobs_pipeline.domain.retry import JobRetryRequested
from jobs_pipeline.jobs.service import JobOutcome
from jobs_pipeline.queue.publisher import QueueMessage
from jobs_pipeline.defs.resources.job_service import JobServiceResource
from jobs_pipeline.defs.resources.landing import LandingZoneResource
from jobs_pipeline.landing.quarantine import quarantine_file, quarantines
from jobs_pipeline.defs.resources.s3_landing import S3LandingResource
from jobs_pipeline.landing.feed_fetch import fetched_feed
from jobs_pipeline.landing.pinned import pinned_feed, under_landing


class FeedConfig(dg.Config):
    """Which file to validate and its business context (the launchpad form)."""

    path: str = Field(description="Path of the feed file.")
    marketplace: str = Field(description="Marketplace whose ruleset applies, e.g. google_merchant.")
    category: str = "unknown"
    region: str = "unknown"
    tier: Literal["free", "pro"] = "free"
    ruleset: str | None = Field(None, description="name@version; empty = the marketplace's latest.")
    job_id: str | None = Field(None, description="Set by sensors so a job keeps one id.")
    file_key: str | None = Field(None, description="The file version's digest (landing sensors).")
    enqueued_at: str | None = Field(None, description="ISO-8601 time the job was queued.")


def job_from(config: FeedConfig) -> ValidationJob:
    """The job a run config describes (a sensor's ``job_id`` is kept, so a file keeps one id)."""
    fields: dict = {}
    if config.job_id:
        fields["job_id"] = uuid.UUID(config.job_id)
    if config.enqueued_at:
        fields["enqueued_at"] = datetime.fromisoformat(config.enqueued_at)
    return ValidationJob(
        feed_uri=config.path,
        context=JobContext(marketplace=config.marketplace, category=config.category, region=config.region,
                           ruleset=config.ruleset, tier=config.tier),
        **fields,
    )


def file_metadata(job: ValidationJob) -> dict:
    """What the UI shows to find a file's outcome: its job id, path and partition."""
    return {"job_id": str(job.job_id), "path": job.feed_uri, "partition_key": job.partition_key}


def validate(context: dg.OpExecutionContext, job_service: JobServiceResource, s3_landing: S3LandingResource,
             landing: LandingZoneResource, job: ValidationJob, s3_client: Callable[[], Any] | None = None) -> JobOutcome:
    """``JobService.run`` on one file, then quarantine of an unusable one; a transient failure
    becomes ``dg.RetryRequested`` (this step only, with the shared retry policy)."""
    service = job_service.get_service()
    try:
        # An s3:// feed runs on a local copy (jobs_pipeline.landing.feed_fetch); the outcome keeps the URI.
        # A landed local feed is opened once without following links (jobs_pipeline.landing.pinned).
        with fetched_feed(job, service, s3_client or s3_landing.get_client,
                          max_bytes=s3_landing.max_object_bytes) as fetched, \
                pinned_feed(fetched, service, landing.landing_dir) as run_job:
            outcome = dataclasses.replace(service.run(run_job, attempt=context.retry_number + 1), job=job)
        s3_landing.quarantine_unusable(outcome, context.log)
        _quarantine_local(context, landing, outcome)
    except JobRetryRequested as exc:
        raise dg.RetryRequested(max_retries=max(0, exc.decision.max_attempts - 1),
                                seconds_to_wait=exc.decision.delay_s) from exc
    finally:
        service.emitter.close()
    return outcome


def outcome_metadata(outcome: JobOutcome) -> dict:
    metadata: dict = {**file_metadata(outcome.job), "status": outcome.status, "attempt": outcome.attempt}
    if outcome.metrics:
        m = outcome.metrics
        metadata.update(records_total=m.records_total, records_error=m.records_error,
                        records_warning=m.records_warning, error_rate=m.error_rate,
                        warning_rate=m.warning_rate, processing_time_ms=m.processing_time_ms)
    if outcome.error:
        metadata.update(error_type=outcome.error.error_type, error=outcome.error.message)
    return metadata


def reason(outcome: JobOutcome) -> str:
    """The one-line reason a job failed."""
    error = outcome.error
    if error is None:
        return "job failed"
    return f"{error.error_type}: {error.message}".splitlines()[0]


def failure(outcome: JobOutcome) -> dg.Failure:
    """The step's failure for a job that failed: its one-line reason and where to find it."""
    return dg.Failure(description=reason(outcome), metadata=outcome_metadata(outcome), allow_retries=False)


def _quarantine_local(context: dg.OpExecutionContext, landing: LandingZoneResource, outcome: JobOutcome) -> None:
    """An unusable file from the landing folder moves to quarantine with its reason (never deleted)."""
    error = outcome.error
    if outcome.ok or error is None or not quarantines(error.error_type):
        return
    try:
        moved = quarantine_file(outcome.job.feed_uri, landing.landing_dir, landing.quarantine_dir, error.message,
                                job_id=str(outcome.job.job_id), error_type=error.error_type)
    except OSError as exc:  # the outcome stands; the file stays where it is
        context.log.error(f"cannot quarantine {outcome.job.feed_uri}: {type(exc).__name__}")
        return
    if moved is not None:
        context.log.warning(f"unusable feed moved to {moved} ({error.error_type})")


def publish_once(context: dg.OpExecutionContext, job_service: JobServiceResource, outcome: JobOutcome) -> None:
    """Publish ``feed.validated`` on the tier's outcome queue (its kind routes it, never to a job queue)."""
    queue = job_service.queue
    if not queue.publish_outcomes:
        context.log.info(f"feed.validated for job {outcome.job.job_id} not published (PUBLISH_OUTCOMES=false)")
        return
    publisher = queue.get_publisher()
    try:
        receipt = publisher.publish(QueueMessage.feed_validated(outcome.job, outcome.summary()))
    finally:
        publisher.close()
    context.log.info(f"feed.validated for job {outcome.job.job_id} on {receipt.backend}/{receipt.queue}")


def publish(context: dg.OpExecutionContext, job_service: JobServiceResource, outcome: JobOutcome,
            attempt: int) -> None:
    """:func:`publish_once`; a broker outage the publisher did not retry itself raises
    ``dg.RetryRequested`` with the shared policy. A publisher that already used its attempts
    raises PublishRetriesExhausted, which is permanent (docs/retries.md): never multiplied here."""
    try:
        publish_once(context, job_service, outcome)
    except Exception as exc:
        decision = job_service.retry_policy().decide(exc, attempt)
        if decision.retry:
            context.log.warning(f"publish feed.validated: {decision.classification} ({decision.reason}); "
                                f"retry in {decision.delay_s:.2f}s")
            raise dg.RetryRequested(max_retries=max(0, decision.max_attempts - 1),
                                    seconds_to_wait=decision.delay_s) from exc
        raise


def landed_size(path: Path, landing_dir: str) -> int:
    """The file's size, -1 when there is none; a link in the landing folder is not followed
    (its target is never measured, as the run never reads it: jobs_pipeline.landing.pinned)."""
    try:
        st = path.lstat() if under_landing(path, landing_dir) is not None else path.stat()
    except OSError:
        return -1
    return st.st_size if stat.S_ISREG(st.st_mode) else -1


@dg.op(description="Build the job from the run config and describe the file.")
def describe_feed(context: dg.OpExecutionContext, config: FeedConfig, landing: LandingZoneResource) -> ValidationJob:
    job = job_from(config)
    size = landed_size(Path(config.path), landing.landing_dir)
    context.add_output_metadata({**file_metadata(job), "payload_size_bytes": size})
    return job


@dg.op(description="JobService.run: validate, collect metrics, emit job.* events; a failed job fails "
                   "this step with its reason, after its outcome is published.")
def run_validation(context: dg.OpExecutionContext, job_service: JobServiceResource, s3_landing: S3LandingResource,
                   landing: LandingZoneResource, job: ValidationJob) -> JobOutcome:
    outcome = validate(context, job_service, s3_landing, landing, job)
    if not outcome.ok:
        # the step that failed is the one the user sees failing; the outcome still goes out first
        publish(context, job_service, outcome, context.retry_number + 1)
        raise failure(outcome)
    context.add_output_metadata(outcome_metadata(outcome))
    return outcome


@dg.op(description="Publish feed.validated on the tier's outcome queue.")
def publish_outcome(context: dg.OpExecutionContext, job_service: JobServiceResource, outcome: JobOutcome) -> None:
    publish(context, job_service, outcome, context.retry_number + 1)
    if not outcome.ok:  # run_validation fails such a job itself; never reached through this job
        raise failure(outcome)


@dg.job(description="Validate one feed file against its marketplace ruleset (the launchpad, sqs_jobs_sensor).",
        tags={"kind": "validation"}, executor_def=dg.in_process_executor)
def validate_feed() -> None:
    publish_outcome(run_validation(describe_feed()))
