"""The ``validate_feed`` job: describe the file -> ``JobService.run`` -> publish ``feed.validated``
on the tier's outcome queue.

Validation, metrics and events stay in the one ``JobService.run`` call that the Celery worker
and the CLI make too, so every path emits identical telemetry. A feed that fails validation
still publishes its outcome, then fails the run."""

import dataclasses
import uuid
from datetime import datetime
from pathlib import Path
from typing import Literal

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


class FeedConfig(dg.Config):
    """Which file to validate and its business context (the launchpad form)."""

    path: str = Field(description="Path of the feed file.")
    marketplace: str = Field(description="Marketplace whose ruleset applies, e.g. google_merchant.")
    category: str = "unknown"
    region: str = "unknown"
    tier: Literal["free", "pro"] = "free"
    ruleset: str | None = Field(None, description="name@version; empty = the marketplace's latest.")
    job_id: str | None = Field(None, description="Set by sensors so a job keeps one id.")
    enqueued_at: str | None = Field(None, description="ISO-8601 time the job was queued.")


@dg.op(description="Build the job from the run config and describe the file.")
def describe_feed(context: dg.OpExecutionContext, config: FeedConfig) -> ValidationJob:
    fields: dict = {}
    if config.job_id:
        fields["job_id"] = uuid.UUID(config.job_id)
    if config.enqueued_at:
        fields["enqueued_at"] = datetime.fromisoformat(config.enqueued_at)
    job = ValidationJob(
        feed_uri=config.path,
        context=JobContext(marketplace=config.marketplace, category=config.category, region=config.region,
                           ruleset=config.ruleset, tier=config.tier),
        **fields,
    )
    path = Path(config.path)
    size = path.stat().st_size if path.is_file() else -1
    context.add_output_metadata({"job_id": str(job.job_id), "partition_key": job.partition_key,
                                 "payload_size_bytes": size})
    return job


@dg.op(description="JobService.run: validate, collect metrics, emit job.* events.")
def run_validation(context: dg.OpExecutionContext, job_service: JobServiceResource, s3_landing: S3LandingResource,
                   landing: LandingZoneResource, job: ValidationJob) -> JobOutcome:
    service = job_service.get_service()
    try:
        # An s3:// feed runs on a local copy (jobs_pipeline.landing.feed_fetch); the outcome keeps the URI.
        with fetched_feed(job, service, s3_landing.get_client, max_bytes=s3_landing.max_object_bytes) as run_job:
            outcome = dataclasses.replace(service.run(run_job, attempt=context.retry_number + 1), job=job)
        s3_landing.quarantine_unusable(outcome, context.log)
        _quarantine_local(context, landing, outcome)
    except JobRetryRequested as exc:
        raise dg.RetryRequested(max_retries=max(0, exc.decision.max_attempts - 1),
                                seconds_to_wait=exc.decision.delay_s) from exc
    finally:
        service.emitter.close()
    metadata: dict = {"status": outcome.status, "attempt": outcome.attempt}
    if outcome.metrics:
        m = outcome.metrics
        metadata.update(records_total=m.records_total, records_error=m.records_error,
                        records_warning=m.records_warning, error_rate=m.error_rate,
                        warning_rate=m.warning_rate, processing_time_ms=m.processing_time_ms)
    if outcome.error:
        metadata["error"] = f"{outcome.error.error_type}: {outcome.error.message}"
    context.add_output_metadata(metadata)
    return outcome


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


@dg.op(description="Publish feed.validated on the tier's outcome queue; fail the run if the job failed.")
def publish_outcome(context: dg.OpExecutionContext, job_service: JobServiceResource, outcome: JobOutcome) -> None:
    queue = job_service.queue
    if not queue.publish_outcomes:
        context.log.info(f"feed.validated for job {outcome.job.job_id} not published (PUBLISH_OUTCOMES=false)")
    else:
        # An outcome goes to the tier's *outcome* queue (its kind routes it), never to a job queue.
        publisher = queue.get_publisher()
        try:
            receipt = publisher.publish(QueueMessage.feed_validated(outcome.job, outcome.summary()))
        except Exception as exc:
            # A broker outage the publisher did not retry itself retries this op, with the shared
            # policy; a publisher that already used its attempts raises PublishRetriesExhausted,
            # which is permanent (docs/retries.md): the attempts are not multiplied here.
            decision = job_service.retry_policy().decide(exc, context.retry_number + 1)
            if decision.retry:
                context.log.warning(f"publish feed.validated: {decision.classification} ({decision.reason}); "
                                    f"retry in {decision.delay_s:.2f}s")
                raise dg.RetryRequested(max_retries=max(0, decision.max_attempts - 1),
                                        seconds_to_wait=decision.delay_s) from exc
            raise
        finally:
            publisher.close()
        context.log.info(f"feed.validated for job {outcome.job.job_id} on {receipt.backend}/{receipt.queue}")
    if not outcome.ok:
        error = outcome.error
        raise dg.Failure(
            description=f"{error.error_type}: {error.message}" if error else "job failed",
            metadata={"job_id": str(outcome.job.job_id), "partition_key": outcome.job.partition_key},
            allow_retries=False,
        )


@dg.job(description="Validate one feed file against its marketplace ruleset.", tags={"kind": "validation"})
def validate_feed() -> None:
    publish_outcome(run_validation(describe_feed()))
