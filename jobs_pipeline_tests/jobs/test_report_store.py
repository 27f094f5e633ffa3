"""The error-report seam (``jobs_pipeline.jobs.reports``): JobService publishes the report through its
store *before* ``job.completed``, so the event carries the final URI; a store that cannot publish
ends the job without a ``job.completed``; the local default is unchanged. (S3: tests/aws.)"""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import polars as pl
import pytest

from jobs_pipeline.defs.resources.deployments import resources_for
from jobs_pipeline.domain.model import JobContext
from jobs_pipeline.domain.retry import ExponentialRetryPolicy, JobRetryRequested
from jobs_pipeline.jobs.service import JobService
from jobs_pipeline.queue.memory import InMemoryQueuePublisher
from jobs_pipeline.jobs.reports import LocalReportStore, ReportStore, build_report_store
from jobs_pipeline.demo.samples import DEMO_FEEDS, write_sample
from jobs_pipeline.settings import SettingsError, load_settings
from jobs_pipeline.telemetry.events import EventType
from jobs_pipeline.telemetry.memory import InMemoryTelemetryEmitter

SPEC = DEMO_FEEDS[0]  # google_merchant electronics BR: bad records
CONTEXT = JobContext(marketplace=SPEC.marketplace, category=SPEC.category, region=SPEC.region)


class RecordingStore:
    """A store that stages in a tmp folder and 'publishes' to mem://, recording what it saw."""

    def __init__(self, root: Path, emitter: InMemoryTelemetryEmitter, fail_with: Exception | None = None) -> None:
        self.root = root
        self.emitter = emitter
        self.fail_with = fail_with
        self.staged: list[Path] = []
        self.open = False
        self.types_at_publish: list[str] | None = None
        self.published: list[tuple[str, bool]] = []

    @property
    def location(self) -> str:
        return "mem://reports/"

    @contextmanager
    def staging(self, job_id: str) -> Iterator[Path]:
        self.open = True
        self.staged.append(self.root / job_id)
        try:
            yield self.root / job_id
        finally:
            self.open = False

    def publish(self, job_id: str, files) -> list[str]:
        self.types_at_publish = list(self.emitter.types())
        self.published = [(f.name, f.is_file()) for f in files]
        if self.fail_with is not None:
            raise self.fail_with
        return [f"mem://reports/{job_id}/{f.name}" for f in files]


@pytest.fixture
def feed(tmp_path: Path) -> Path:
    return write_sample(tmp_path / "in", SPEC)


def test_the_store_publishes_before_job_completed_and_the_event_carries_its_uri(tmp_path, feed):
    emitter = InMemoryTelemetryEmitter()
    store = RecordingStore(tmp_path / "stage", emitter)
    assert isinstance(store, ReportStore)
    service = JobService(InMemoryQueuePublisher(), emitter, report_store=store)
    job = service.create_job(feed, CONTEXT)
    outcome = service.run(job)

    assert outcome.ok and outcome.metrics.records_error == SPEC.expected_errors
    assert store.staged == [tmp_path / "stage" / str(job.job_id)]  # the validator wrote there
    assert store.published == [("errors.parquet", True), ("errors.csv", True)]
    assert "job.completed" not in store.types_at_publish and store.types_at_publish[0] == "job.started"
    assert not store.open  # staging ended before the job did
    uri = f"mem://reports/{job.job_id}/errors.parquet"
    assert outcome.metrics.error_report_uri == uri
    [completed] = emitter.of_type(EventType.COMPLETED)
    assert completed.metrics["error_report_uri"] == uri


def test_a_report_that_cannot_be_published_never_gives_job_completed(tmp_path, feed):
    emitter = InMemoryTelemetryEmitter()
    store = RecordingStore(tmp_path / "stage", emitter, fail_with=PermissionError("AccessDenied"))
    service = JobService(InMemoryQueuePublisher(), emitter, report_store=store)
    outcome = service.run(service.create_job(feed, CONTEXT))
    assert outcome.status == "failed" and outcome.error.error_type == "PermissionError"
    assert emitter.types()[-1] == "job.failed" and "job.completed" not in emitter.types()
    assert not store.open


def test_a_transient_publish_failure_is_retried_like_any_transient_error(tmp_path, feed):
    emitter = InMemoryTelemetryEmitter()
    store = RecordingStore(tmp_path / "stage", emitter, fail_with=ConnectionResetError("reset"))
    service = JobService(InMemoryQueuePublisher(), emitter, report_store=store,
                         retry_policy=ExponentialRetryPolicy(max_attempts=3, base_s=0, throttle_base_s=0))
    with pytest.raises(JobRetryRequested):
        service.run(service.create_job(feed, CONTEXT))
    assert emitter.types()[-1] == "job.retrying" and "job.completed" not in emitter.types()


def test_local_default_is_unchanged_reports_dir_job_id_errors_parquet(tmp_path, feed):
    emitter = InMemoryTelemetryEmitter()
    service = JobService(InMemoryQueuePublisher(), emitter, reports_dir=tmp_path / "reports")
    assert isinstance(service.report_store, LocalReportStore)
    job = service.create_job(feed, CONTEXT)
    outcome = service.run(job)
    report = tmp_path / "reports" / str(job.job_id) / "errors.parquet"
    assert outcome.metrics.error_report_uri == str(report)
    assert emitter.of_type(EventType.COMPLETED)[0].metrics["error_report_uri"] == str(report)
    rows = pl.read_parquet(report)
    assert rows.filter(pl.col("severity") == "error")["row"].n_unique() == SPEC.expected_errors
    assert pl.read_csv(report.with_suffix(".csv")).height == rows.height


def test_a_service_without_a_store_writes_no_report(feed):
    service = JobService(InMemoryQueuePublisher(), InMemoryTelemetryEmitter())
    assert service.report_store is None
    assert service.run(service.create_job(feed, CONTEXT)).metrics.error_report_uri is None


def test_settings_reports_uri_defaults_to_the_reports_folder_and_the_dagster_service_uses_it(settings, feed):
    assert settings.jobs_pipeline_reports_uri is None and settings.reports_uri == str(settings.reports_dir)
    service = resources_for(settings)["job_service"].get_service()
    assert isinstance(service.report_store, LocalReportStore)
    assert service.report_store.location == str(settings.reports_dir)


@pytest.mark.parametrize("value, expected", [
    ("s3://acme-feeds/reports", "s3://acme-feeds/reports/"),
    ("s3://acme-feeds", "s3://acme-feeds/"),
])
def test_reports_uri_accepts_s3_locations(data_dir, monkeypatch, value, expected):
    monkeypatch.setenv("JOBS_PIPELINE_REPORTS_URI", value)
    settings = load_settings()
    assert settings.reports_uri == expected
    store = build_report_store(settings.reports_uri)
    assert type(store).__name__ == "S3ReportStore" and store.location == expected


def test_reports_uri_accepts_a_local_folder(data_dir, monkeypatch, tmp_path):
    monkeypatch.setenv("JOBS_PIPELINE_REPORTS_URI", str(tmp_path / "elsewhere"))
    settings = load_settings()
    assert isinstance(build_report_store(settings.reports_uri), LocalReportStore)
    assert resources_for(settings)["job_service"].get_service().report_store.location == str(tmp_path / "elsewhere")


@pytest.mark.parametrize("value", ["s3:/acme-feeds/reports", "s3://", "S3://"])
def test_a_malformed_reports_uri_fails_at_start_up_naming_the_variable(data_dir, monkeypatch, value):
    monkeypatch.setenv("JOBS_PIPELINE_REPORTS_URI", value)
    with pytest.raises(SettingsError, match="JOBS_PIPELINE_REPORTS_URI"):
        load_settings()
