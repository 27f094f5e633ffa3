"""JobService: submit jobs to a queue, and run one job from start to its final event.

Its collaborators are injected, so the Dagster op, the Celery task and the CLI run the very same
``run``, which never lets a failure escape without a ``job.failed`` or ``job.retrying`` event.
Event ids are deterministic per job, attempt and sequence: a redelivered job counts once."""

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jobs_pipeline.domain.errors import JobsPipelineError
from jobs_pipeline.domain.model import JobContext, ValidationJob
from jobs_pipeline.domain.retry import JobRetryRequested, NeverRetry, RetryPolicy
from jobs_pipeline.jobs.metrics import MetricsCollector, ValidationMetrics
from jobs_pipeline.queue.publisher import PublishReceipt, QueueMessage, QueuePublisher
from jobs_pipeline.jobs.reports import LocalReportStore, ReportStore
from jobs_pipeline.telemetry.emitter import TelemetryEmitter
from jobs_pipeline.telemetry.events import ErrorInfo, EventType, make_event
from jobs_pipeline.validation.engine import validate_file
from jobs_pipeline.validation.result import RecordError, ValidationResult
from jobs_pipeline.validation.ruleset import Ruleset, ruleset_for

logger = logging.getLogger(__name__)

Validator = Callable[..., ValidationResult]


@dataclass
class JobOutcome:
    """What one run of a job produced."""

    job: ValidationJob
    status: str  # "completed" | "failed"
    attempt: int
    metrics: ValidationMetrics | None = None
    error: ErrorInfo | None = None
    sample: list[RecordError] = field(default_factory=list)
    file_errors: list[str] = field(default_factory=list)
    file_warnings: list[str] = field(default_factory=list)  # file-level notes (blank lines skipped, ...)

    @property
    def ok(self) -> bool:
        return self.status == "completed"

    def summary(self) -> dict[str, Any]:
        """JSON-ready outcome (what ``feed.validated`` carries and the CLI prints)."""
        return {
            "job_id": str(self.job.job_id),
            "status": self.status,
            "attempt": self.attempt,
            "partition_key": self.job.partition_key,
            "metrics": self.metrics.model_dump(mode="json") if self.metrics else None,
            "error": self.error.model_dump(mode="json") if self.error else None,
            "sample_errors": [vars(s) for s in self.sample],
            "file_errors": list(self.file_errors),
            "file_warnings": list(self.file_warnings),
        }


class JobService:
    def __init__(
        self,
        publisher: QueuePublisher,
        emitter: TelemetryEmitter,
        *,
        validator: Validator = validate_file,
        retry_policy: RetryPolicy | None = None,
        progress_every: int = 100_000,
        sample_limit: int = 20,
        reports_dir: Path | None = None,
        report_store: ReportStore | None = None,
        read_limits: Any = None,
    ) -> None:
        self.publisher = publisher
        self.emitter = emitter
        self.validator = validator
        self.retry_policy = retry_policy or NeverRetry()
        self.progress_every = progress_every
        self.sample_limit = sample_limit
        # Error reports: written locally by the validator, then made final by the store (local
        # <reports_dir>/<job_id>/ or S3, jobs_pipeline.jobs.reports); None = no report.
        if report_store is None and reports_dir is not None:
            report_store = LocalReportStore(reports_dir)
        self.report_store = report_store
        self.read_limits = read_limits  # validation.sources.ReadLimits (size/bomb limits, batch size)

    # -- producing side -------------------------------------------------------------------
    def create_job(self, feed_uri: str | Path, context: JobContext, **fields: Any) -> ValidationJob:
        return ValidationJob(feed_uri=str(feed_uri), context=context, **fields)

    def submit(self, feed_uri: str | Path, context: JobContext, **fields: Any) -> tuple[ValidationJob, PublishReceipt]:
        """Create a job and publish it to its tier's queue. Raises ``PublishError`` if not queued."""
        job = self.create_job(feed_uri, context, **fields)
        receipt = self.publisher.publish(QueueMessage.for_job(job))
        logger.info("job %s queued on %s/%s", job.job_id, receipt.backend, receipt.queue)
        return job, receipt

    # -- consuming side -------------------------------------------------------------------
    def run(self, job: ValidationJob, *, attempt: int = 1) -> JobOutcome:
        """Execute one job: started → progress… → completed | failed (| retrying, raised).

        The job's events are flushed before it returns: a sink that cannot make them durable
        raises here instead of reporting a job whose events are lost, as ``JobRetryRequested``
        when the retry policy retries that error (the next attempt re-emits every event). When a
        retry is already due, the flush is best effort and never hides the retry request.
        """
        try:
            outcome = self._execute(job, attempt)
        except BaseException:  # JobRetryRequested above all: the flush must not replace it
            self._flush_quietly(job)
            raise
        try:
            self.emitter.flush()
        except Exception as exc:
            decision = self.retry_policy.decide(exc, attempt)
            logger.error("job %s ended %s but its events are not durable: %s (%s)", job.job_id, outcome.status,
                         exc, "retrying" if decision.retry else decision.reason)
            if decision.retry:
                raise JobRetryRequested(job_id=str(job.job_id), attempt=attempt, decision=decision,
                                        cause=exc) from exc
            raise
        return outcome

    def _flush_quietly(self, job: ValidationJob) -> None:
        try:
            self.emitter.flush()
        except Exception:
            logger.exception("job %s: telemetry flush failed while the job was ending", job.job_id)

    def _report_staging(self, job: ValidationJob) -> AbstractContextManager[Path | None]:
        return nullcontext() if self.report_store is None else self.report_store.staging(str(job.job_id))

    def _execute(self, job: ValidationJob, attempt: int) -> JobOutcome:
        seq = _Sequence()
        ruleset_ref = job.context.ruleset
        collector = MetricsCollector(job, ruleset=ruleset_ref or "unknown").start()

        def emit(event_type: EventType, metrics: dict[str, Any], error: ErrorInfo | None = None) -> None:
            self.emitter.emit(
                make_event(job, event_type, attempt=attempt, sequence=seq.next(), metrics=metrics,
                           ruleset=collector.ruleset, error=error)
            )

        try:
            path = Path(job.feed_uri)
            collector.payload_size_bytes = path.stat().st_size if path.is_file() else 0
            emit(EventType.STARTED, collector.snapshot())
            ruleset: Ruleset = ruleset_for(job.context.marketplace, ruleset_ref, category=job.context.category,
                                           region=job.context.region)
            collector.ruleset = ruleset.ref
            progress = _ProgressReporter(self.progress_every, lambda n: emit(
                EventType.PROGRESS, collector.snapshot(records_processed=n)))
            extra: dict[str, Any] = {}
            if self.read_limits is not None:
                extra["limits"] = self.read_limits
            with self._report_staging(job) as report_dir:
                if report_dir is not None:
                    extra["report_dir"] = report_dir
                result = self.validator(
                    path, ruleset, on_progress=progress, progress_every=self.progress_every,
                    sample_limit=self.sample_limit, **extra,
                )
                if self.report_store is not None and result.error_report_paths:
                    # final URIs before job.completed; a failed upload ends the job like any error
                    result.error_report_paths = self.report_store.publish(
                        str(job.job_id), [Path(p) for p in result.error_report_paths])
            metrics = collector.collect(result)
            emit(EventType.COMPLETED, metrics.model_dump(mode="json"))
            return JobOutcome(job=job, status="completed", attempt=attempt, metrics=metrics,
                              sample=result.sample, file_errors=result.file_errors,
                              file_warnings=result.file_warnings)
        except Exception as exc:
            decision = self.retry_policy.decide(exc, attempt)
            error = ErrorInfo(
                error_type=type(exc).__name__,
                message=exc.reason if isinstance(exc, JobsPipelineError) else str(exc)[:500],
                classification=decision.classification,
                delay_s=decision.delay_s if decision.retry else None,
            )
            if decision.retry:
                try:
                    emit(EventType.RETRYING, collector.snapshot(), error)
                except Exception:  # a sink failing must not turn a retry into a lost job
                    logger.exception("job %s: could not emit job.retrying", job.job_id)
                raise JobRetryRequested(job_id=str(job.job_id), attempt=attempt, decision=decision, cause=exc) from exc
            if not isinstance(exc, JobsPipelineError):
                logger.exception("job %s failed with an unexpected error", job.job_id)
            emit(EventType.FAILED, collector.snapshot(), error)
            return JobOutcome(job=job, status="failed", attempt=attempt, error=error)


class _Sequence:
    def __init__(self) -> None:
        self.value = -1

    def next(self) -> int:
        self.value += 1
        return self.value


class _ProgressReporter:
    """Calls ``report`` each time another ``every`` records have been processed."""

    def __init__(self, every: int, report: Callable[[int], None]) -> None:
        self.every = every
        self.report = report
        self.next_mark = every

    def __call__(self, records_done: int) -> None:
        if records_done >= self.next_mark:
            self.report(records_done)
            self.next_mark = (records_done // self.every + 1) * self.every
