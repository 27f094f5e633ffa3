"""Validation jobs: the job model and :class:`JobService`."""

from jobs_pipeline.jobs.model import JobContext, Tier, ValidationJob, partition_key
from jobs_pipeline.jobs.service import JobOutcome, JobService

__all__ = ["JobContext", "JobOutcome", "JobService", "Tier", "ValidationJob", "partition_key"]
