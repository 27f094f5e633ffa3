"""The retry seam of :class:`JobService.run`.

A policy decides, from the exception and the attempt, whether the job should run again and
after how long. The default never retries; the transient-error issue plugs in the shared
type-based policy here, and the adapters (Dagster ``RetryRequested``, Celery ``retry``)
turn :class:`JobRetryRequested` into their own mechanism.
"""

from dataclasses import dataclass
from typing import Protocol

from jobs_pipeline.errors import JobsPipelineError


@dataclass(frozen=True)
class RetryDecision:
    retry: bool
    delay_s: float = 0.0
    classification: str = "permanent"
    reason: str = ""
    max_attempts: int = 1  # the policy's ceiling, so adapters can tell their own retry machinery


class RetryPolicy(Protocol):
    def decide(self, exc: BaseException, attempt: int) -> RetryDecision: ...


class NeverRetry:
    """Every failure is final."""

    def decide(self, exc: BaseException, attempt: int) -> RetryDecision:
        return RetryDecision(retry=False, classification=getattr(exc, "retry_class", "permanent"))


class JobRetryRequested(JobsPipelineError):
    """Raised by ``JobService.run`` after it emitted ``job.retrying``: run the job again later."""

    retry_class = "transient"

    def __init__(self, *, job_id: str, attempt: int, decision: RetryDecision, cause: BaseException) -> None:
        super().__init__(
            f"job {job_id} attempt {attempt} failed with {type(cause).__name__} "
            f"({decision.classification}); retry in {decision.delay_s:.1f}s"
        )
        self.job_id = job_id
        self.attempt = attempt
        self.decision = decision
        self.cause = cause
