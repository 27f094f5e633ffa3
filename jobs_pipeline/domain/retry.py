"""The retry seam of ``JobService.run``: the one retry policy every runner shares.

A policy decides from the exception (:func:`~jobs_pipeline.domain.transient.classify`) and
the attempt whether the job runs again, and after how long (:mod:`.backoff`). The adapters
turn :class:`JobRetryRequested` into Dagster ``RetryRequested`` or Celery ``Task.retry``.
"""

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from jobs_pipeline.domain.backoff import backoff_ceiling, backoff_delay
from jobs_pipeline.domain.errors import JobsPipelineError
from jobs_pipeline.domain.transient import Classification, ErrorClass, classify


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
    """Every failure is final (still classified, so ``job.failed`` says what it was)."""

    def decide(self, exc: BaseException, attempt: int) -> RetryDecision:
        verdict = classify(exc)
        return RetryDecision(retry=False, classification=verdict.kind.value, reason=verdict.reason)


@dataclass(frozen=True)
class ExponentialRetryPolicy:
    """Retry transient/throttled errors ``max_attempts - 1`` times, with capped full jitter.

    ``attempt`` is 1-based (the attempt that just failed). ``rng`` and ``classifier`` are
    injectable so tests can pin the jitter and fake the classification.
    """

    max_attempts: int = 3
    base_s: float = 1.0
    throttle_base_s: float = 5.0
    cap_s: float = 60.0
    classifier: Callable[[BaseException], Classification] = classify
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        if min(self.base_s, self.throttle_base_s, self.cap_s) < 0:
            raise ValueError("backoff delays must be >= 0")

    @classmethod
    def from_settings(cls, settings: object) -> "ExponentialRetryPolicy":
        """Built from :class:`jobs_pipeline.settings.Settings` (``RETRY_*`` variables)."""
        return cls(
            max_attempts=settings.retry_max_attempts,  # type: ignore[attr-defined]
            base_s=settings.retry_base_s,  # type: ignore[attr-defined]
            throttle_base_s=settings.retry_throttle_base_s,  # type: ignore[attr-defined]
            cap_s=settings.retry_cap_s,  # type: ignore[attr-defined]
        )

    def _base(self, kind: ErrorClass) -> float:
        return self.throttle_base_s if kind is ErrorClass.THROTTLED else self.base_s

    def backoff_ceiling(self, kind: ErrorClass, attempt: int) -> float:
        """The largest delay after failed ``attempt``: ``min(cap, base * 2**(attempt-1))``."""
        return backoff_ceiling(attempt, base_s=self._base(kind), cap_s=self.cap_s)

    def delay_for(self, verdict: Classification, attempt: int) -> float:
        """Full jitter; a server's ``Retry-After`` is a floor, capped at ``cap_s``."""
        return backoff_delay(attempt, base_s=self._base(verdict.kind), cap_s=self.cap_s, rng=self.rng,
                             retry_after_s=verdict.retry_after_s)

    def decide(self, exc: BaseException, attempt: int) -> RetryDecision:
        verdict = self.classifier(exc)
        kind = verdict.kind.value
        if not verdict.retryable:
            return RetryDecision(retry=False, classification=kind, reason=verdict.reason,
                                 max_attempts=self.max_attempts)
        if attempt >= self.max_attempts:
            return RetryDecision(retry=False, classification=kind,
                                 reason=f"{verdict.reason}; gave up after {attempt} attempt(s)",
                                 max_attempts=self.max_attempts)
        return RetryDecision(retry=True, delay_s=self.delay_for(verdict, attempt), classification=kind,
                             reason=verdict.reason, max_attempts=self.max_attempts)


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
