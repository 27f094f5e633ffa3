"""Standard quality metrics of a validation job (``ValidationMetrics``), and the one way they
are made (``MetricsCollector``). Rates are fractions of ``records_total`` in [0, 1]; a record
is *error* when an error rule fails on it, *warning* when only warning rules do, and *valid*
when no error rule fails. Counting semantics: docs/validation.md#counting."""

import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Self

from pydantic import BaseModel, ConfigDict, Field, NonNegativeFloat, NonNegativeInt, model_validator

if TYPE_CHECKING:
    from jobs_pipeline.domain.model import ValidationJob
    from jobs_pipeline.validation.result import ValidationResult


def rate(part: int, total: int) -> float:
    """``part / total`` as a 0–1 fraction; 0 when there is nothing to divide."""
    return part / total if total else 0.0


class ValidationMetrics(BaseModel):
    """What every job reports, with invariants the model enforces."""

    model_config = ConfigDict(frozen=True)

    payload_size_bytes: NonNegativeInt
    records_total: NonNegativeInt
    records_valid: NonNegativeInt
    records_error: NonNegativeInt
    records_warning: NonNegativeInt
    errors_by_field: dict[str, NonNegativeInt] = Field(default_factory=dict)
    warnings_by_field: dict[str, NonNegativeInt] = Field(default_factory=dict)
    errors_by_rule: dict[str, NonNegativeInt] = Field(default_factory=dict)
    sole_errors_by_rule: dict[str, NonNegativeInt] = Field(
        default_factory=dict,
        description="Per error rule, the error records it alone fails: fixing it would make them valid.")
    processing_time_ms: NonNegativeFloat
    latency_ms: NonNegativeFloat = Field(description="From enqueue to the end of processing.")
    error_rate: float = Field(ge=0.0, le=1.0)
    warning_rate: float = Field(ge=0.0, le=1.0)
    marketplace: str
    category: str
    region: str
    ruleset: str
    tier: str
    feed_format: str | None = None
    encoding: str | None = None
    error_report_uri: str | None = Field(None, description="The full error report (Parquet; CSV beside it).")

    @model_validator(mode="after")
    def _invariants(self) -> Self:
        if self.records_valid + self.records_error > self.records_total:
            raise ValueError(
                f"records_valid ({self.records_valid}) + records_error ({self.records_error}) "
                f"exceeds records_total ({self.records_total})"
            )
        if self.records_warning > self.records_valid:
            raise ValueError("records_warning cannot exceed records_valid (warning records are valid)")
        if sum(self.sole_errors_by_rule.values()) > self.records_error:
            raise ValueError("sole_errors_by_rule cannot sum above records_error (a record fails alone once at most)")
        for name, part in (("error_rate", self.records_error), ("warning_rate", self.records_warning)):
            expected = rate(part, self.records_total)
            if abs(getattr(self, name) - expected) > 1e-9:
                raise ValueError(f"{name} must be {expected} for these counts")
        return self

    @property
    def partition_key(self) -> str:
        return f"{self.marketplace}:{self.category}:{self.region}"


class MetricsCollector:
    """Times one job and turns the validator's counts into :class:`ValidationMetrics`."""

    def __init__(
        self,
        job: "ValidationJob",
        *,
        ruleset: str,
        clock: Callable[[], float] = time.perf_counter,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        from jobs_pipeline.domain.model import utcnow

        self.job = job
        self.ruleset = ruleset
        self._clock = clock
        self._now = now or utcnow
        self._started: float | None = None
        self.payload_size_bytes = 0

    def start(self) -> Self:
        self._started = self._clock()
        return self

    def elapsed_ms(self) -> float:
        return 0.0 if self._started is None else max(0.0, (self._clock() - self._started) * 1000.0)

    def latency_ms(self) -> float:
        return max(0.0, (self._now() - self.job.enqueued_at).total_seconds() * 1000.0)

    def snapshot(self, **extra: object) -> dict[str, object]:
        """Partial metrics for started/progress/failed events."""
        return {
            "payload_size_bytes": self.payload_size_bytes,
            "processing_time_ms": round(self.elapsed_ms(), 3),
            **extra,
        }

    def collect(self, result: "ValidationResult") -> ValidationMetrics:
        ctx = self.job.context
        return ValidationMetrics(
            payload_size_bytes=self.payload_size_bytes,
            records_total=result.records_total,
            records_valid=result.records_valid,
            records_error=result.records_error,
            records_warning=result.records_warning,
            errors_by_field=dict(result.errors_by_field),
            warnings_by_field=dict(result.warnings_by_field),
            errors_by_rule=dict(result.errors_by_rule),
            sole_errors_by_rule=dict(result.sole_errors_by_rule),
            processing_time_ms=round(self.elapsed_ms(), 3),
            latency_ms=round(self.latency_ms(), 3),
            error_rate=rate(result.records_error, result.records_total),
            warning_rate=rate(result.records_warning, result.records_total),
            marketplace=ctx.marketplace,
            category=ctx.category,
            region=ctx.region,
            ruleset=self.ruleset,
            tier=ctx.tier.value,
            feed_format=result.feed_format,
            encoding=result.encoding,
            error_report_uri=next(iter(getattr(result, "error_report_paths", None) or []), None),
        )
