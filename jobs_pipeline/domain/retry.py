"""The retry seam of :class:`JobService.run`, and the one retry policy every runner shares.

A policy decides, from the exception and the attempt, whether the job should run again and
after how long. :class:`ExponentialRetryPolicy` asks the shared type-based classifier
(:func:`jobs_pipeline.domain.transient.classify`): permanent errors fail at once; transient and
throttled ones are retried up to ``max_attempts`` with exponential backoff and full jitter
(AWS "full jitter": ``uniform(0, min(cap, base * 2**(attempt-1)))``), throttling using a
longer base so a throttled service gets room to recover.

The adapters turn :class:`JobRetryRequested` into their own mechanism (Dagster
``RetryRequested``, Celery ``Task.retry``) with the decision's ``delay_s`` and
``max_attempts``, so the numbers are the same whichever runner runs the job.
"""

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

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

    def backoff_ceiling(self, kind: ErrorClass, attempt: int) -> float:
        """The largest delay after failed ``attempt``: ``min(cap, base * 2**(attempt-1))``."""
        base = self.throttle_base_s if kind is ErrorClass.THROTTLED else self.base_s
        exponent = min(max(attempt, 1) - 1, 62)  # no float overflow on absurd attempt numbers
        return min(self.cap_s, base * (2.0 ** exponent))

    def delay_for(self, verdict: Classification, attempt: int) -> float:
        delay = self.rng.uniform(0.0, self.backoff_ceiling(verdict.kind, attempt))
        if verdict.retry_after_s is not None:  # the server said when: never earlier (but capped)
            delay = max(delay, min(verdict.retry_after_s, self.cap_s))
        return delay

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
