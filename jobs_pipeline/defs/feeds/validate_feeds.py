"""The ``validate_feeds`` job: the landing sensors' batch of files, one mapped step per file.

``plan_feeds`` fans the batch out (``DynamicOut``, mapping key = the job id); each
``validate_file[<job id>]`` step validates, quarantines and publishes one file with its own
job id, events and metadata, fails alone with the file's one-line reason and retries alone on a
transient failure. All steps run in the run's process (no process per step)."""

import time
from typing import Any

import dagster as dg
from pydantic import Field

from jobs_pipeline.defs.feeds.validate_feed import (
    FeedConfig, failure, file_metadata, job_from, outcome_metadata, publish_once, validate,
)
from jobs_pipeline.defs.resources.job_service import JobServiceResource
from jobs_pipeline.defs.resources.landing import LandingZoneResource
from jobs_pipeline.defs.resources.s3_landing import S3LandingResource
from jobs_pipeline.domain.model import ValidationJob
from jobs_pipeline.jobs.service import JobOutcome


class FeedBatchConfig(dg.Config):
    """The files of one batch (set by the landing sensors)."""

    feeds: list[FeedConfig] = Field(description="One entry per file, as validate_feed's describe_feed config.")


@dg.op(out=dg.DynamicOut(ValidationJob), description="One mapped output per file of the batch.")
def plan_feeds(context: dg.OpExecutionContext, config: FeedBatchConfig):
    for feed in config.feeds:
        job = job_from(feed)
        yield dg.DynamicOutput(job, mapping_key=job.job_id.hex, metadata=file_metadata(job))
    context.log.info(f"{len(config.feeds)} file(s) in this batch")


_CLIENTS: dict[int, tuple[S3LandingResource, Any]] = {}


def _s3_client(s3_landing: S3LandingResource) -> Any:
    """One S3 client for all the steps of a run (building one costs more than a small feed's work)."""
    hit = _CLIENTS.get(id(s3_landing))
    if hit is None or hit[0] is not s3_landing:
        _CLIENTS.clear()
        hit = _CLIENTS[id(s3_landing)] = (s3_landing, s3_landing.get_client())
    return hit[1]


def _publish(context: dg.OpExecutionContext, job_service: JobServiceResource, outcome: JobOutcome) -> None:
    """Publish with the shared retry policy inside the step, so a broker outage never validates
    the file a second time; a permanent error (or the last attempt) fails the step."""
    policy = job_service.retry_policy()
    attempt = 1
    while True:
        try:
            publish_once(context, job_service, outcome)
            return
        except Exception as exc:
            decision = policy.decide(exc, attempt)
            if not decision.retry:
                raise
            context.log.warning(f"publish feed.validated: {decision.classification} ({decision.reason}); "
                                f"retry in {decision.delay_s:.2f}s")
            time.sleep(decision.delay_s)
            attempt += 1


@dg.op(description="One file: JobService.run, quarantine if unusable, publish feed.validated; "
                   "a failed job fails this step with its reason.")
def validate_file(context: dg.OpExecutionContext, job_service: JobServiceResource, s3_landing: S3LandingResource,
                  landing: LandingZoneResource, job: ValidationJob) -> JobOutcome:
    outcome = validate(context, job_service, s3_landing, landing, job, s3_client=lambda: _s3_client(s3_landing))
    _publish(context, job_service, outcome)
    if not outcome.ok:
        raise failure(outcome)
    context.add_output_metadata(outcome_metadata(outcome))
    return outcome


@dg.job(description="Validate a batch of landed files, one step per file (landing sensors).",
        tags={"kind": "validation"}, executor_def=dg.in_process_executor)
def validate_feeds() -> None:
    plan_feeds().map(validate_file)
