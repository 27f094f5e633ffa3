"""Error reports on S3 (``JOBS_PIPELINE_REPORTS_URI=s3://bucket/reports``), against moto:
a feed with bad records validated from S3 leaves ``errors.parquet`` and ``errors.csv`` under
``reports/<job_id>/``, ``job.completed`` carries that ``s3://`` URI, and the Parquet read back
from S3 holds every failing (record, rule) of an independent reference implementation."""

import importlib
import io
import json
import tempfile
from pathlib import Path

import polars as pl
import pytest

from jobs_pipeline.defs.feeds.validate_feed import validate_feed
from jobs_pipeline.domain.model import JobContext
from jobs_pipeline.jobs.service import JobService
from jobs_pipeline.queue.memory import InMemoryQueuePublisher
from jobs_pipeline.jobs.compose import report_store_from_settings
from jobs_pipeline.demo.samples import DEMO_FEEDS, write_sample
from jobs_pipeline.settings import load_settings
from jobs_pipeline.jobs.s3_reports import S3ReportStore
from jobs_pipeline.telemetry.memory import InMemoryTelemetryEmitter
from jobs_pipeline.validation.ruleset import ruleset_for
from jobs_pipeline_tests.aws.harness import REGION, landing_resource
from jobs_pipeline_tests.dagster_helpers import feed_run_config, resources_for
from jobs_pipeline_tests.validation.reference import read_csv_rows, rule_fails

SPEC = DEMO_FEEDS[0]  # google_merchant electronics BR: 1200 records, bad ones among them


def _objects(s3, bucket: str, prefix: str) -> dict[str, dict]:
    return {o["Key"]: o for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])}


def _lake_events(s3, bucket: str) -> list[dict]:
    return [json.loads(line) for key in _objects(s3, bucket, "lake/")
            for line in s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode().splitlines()]


def _expected_failures(path: Path) -> set[tuple[int, str, str]]:
    """Every failing (record, rule, severity), from the plain per-record reference (no polars)."""
    ruleset = ruleset_for(SPEC.marketplace, category=SPEC.category, region=SPEC.region)
    seen: dict[str, set[str]] = {r.rule_id: set() for r in ruleset.rules}
    return {(n, r.rule_id, r.severity) for n, row in enumerate(read_csv_rows(path, ruleset), start=1)
            for r in ruleset.rules if rule_fails(r, row, seen[r.rule_id])}


@pytest.fixture
def s3_settings(monkeypatch, moto_server, bucket, data_dir):
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server.endpoint_url)
    monkeypatch.setenv("JOBS_PIPELINE_LAKE_URI", f"s3://{bucket}/lake")
    monkeypatch.setenv("JOBS_PIPELINE_REPORTS_URI", f"s3://{bucket}/reports")
    return load_settings()


@pytest.fixture
def private_tmp(tmp_path, monkeypatch) -> Path:
    """Where ``tempfile`` puts the run's temporary folders, to check they are gone afterwards."""
    root = tmp_path / "tmp"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    return root


def test_a_feed_validated_from_s3_leaves_its_report_under_reports_and_job_completed_names_it(
        moto_server, s3, bucket, s3_settings, instance, tmp_path, private_tmp):
    settings = s3_settings
    local = write_sample(tmp_path / "src", SPEC)
    key = f"landing/{SPEC.relpath}"
    s3.upload_file(str(local), bucket, key)
    resources = resources_for(settings)
    resources["s3_landing"] = landing_resource(moto_server, bucket)

    result = validate_feed.execute_in_process(
        run_config=feed_run_config(f"s3://{bucket}/{key}", SPEC.marketplace, SPEC.category, SPEC.region),
        instance=instance, resources=resources)
    assert result.success
    outcome = result.output_for_node("run_validation")
    job_id = str(outcome.job.job_id)
    assert outcome.metrics.records_error == SPEC.expected_errors > 0

    # both files under reports/<job_id>/, and nothing else under reports/
    parquet_key, csv_key = f"reports/{job_id}/errors.parquet", f"reports/{job_id}/errors.csv"
    assert set(_objects(s3, bucket, "reports/")) == {parquet_key, csv_key}
    uri = f"s3://{bucket}/{parquet_key}"
    assert outcome.metrics.error_report_uri == uri

    # the job.completed event in the (S3) lake carries the s3:// URI
    events = [e for e in _lake_events(s3, bucket) if e["job_id"] == job_id]
    assert [e["type"] for e in events][0] == "job.started"
    [completed] = [e for e in events if e["type"] == "job.completed"]
    assert completed["metrics"]["error_report_uri"] == uri

    # reading the Parquet back from S3 gives every failing row, and only those
    report = pl.read_parquet(io.BytesIO(s3.get_object(Bucket=bucket, Key=parquet_key)["Body"].read()))
    assert report.columns == ["row", "field", "rule", "severity", "value", "message"]
    got = {(r["row"], r["rule"], r["severity"]) for r in report.iter_rows(named=True)}
    assert got == _expected_failures(local) and report.height == len(got)
    errors = report.filter(pl.col("severity") == "error")
    assert errors["row"].n_unique() == outcome.metrics.records_error
    head = s3.head_object(Bucket=bucket, Key=csv_key)
    assert head["ContentType"].startswith("text/csv")
    csv = pl.read_csv(io.BytesIO(s3.get_object(Bucket=bucket, Key=csv_key)["Body"].read()),
                      schema_overrides={"value": pl.String})
    assert csv.height == report.height and csv["row"].to_list() == report["row"].to_list()

    # no local copy: nothing in the reports folder, no temporary report or feed folder left
    assert not settings.reports_dir.exists() or not any(settings.reports_dir.iterdir())
    assert [p.name for p in private_tmp.iterdir() if p.name.startswith(("report-", "feed-"))] == []


def test_the_celery_worker_service_publishes_reports_to_s3_too(
        moto_server, s3, bucket, s3_settings, tmp_path, monkeypatch, private_tmp):
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://127.0.0.1:1/0")  # the module builds its app on import
    worker = importlib.import_module("jobs_pipeline.worker")
    service = worker.build_service(s3_settings)  # what the Celery task runs jobs with
    assert isinstance(service.report_store, S3ReportStore)
    local = write_sample(tmp_path / "src", SPEC)
    job = service.create_job(local, JobContext(marketplace=SPEC.marketplace, category=SPEC.category,
                                               region=SPEC.region))
    outcome = service.run(job)
    service.emitter.close()
    uri = f"s3://{bucket}/reports/{job.job_id}/errors.parquet"
    assert outcome.ok and outcome.metrics.error_report_uri == uri
    assert set(_objects(s3, bucket, "reports/")) == {f"reports/{job.job_id}/errors.parquet",
                                                     f"reports/{job.job_id}/errors.csv"}
    [completed] = [e for e in _lake_events(s3, bucket) if e["type"] == "job.completed"]
    assert completed["metrics"]["error_report_uri"] == uri
    assert [p for p in private_tmp.iterdir() if p.name.startswith("report-")] == []


def test_an_unwritable_report_destination_fails_the_job_instead_of_completing_it(
        moto_server, s3, bucket, data_dir, monkeypatch, tmp_path, private_tmp):
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server.endpoint_url)
    monkeypatch.setenv("JOBS_PIPELINE_REPORTS_URI", f"s3://{bucket}-missing/reports")  # no such bucket
    settings = load_settings()
    emitter = InMemoryTelemetryEmitter()
    service = JobService(InMemoryQueuePublisher(), emitter, report_store=report_store_from_settings(settings))
    outcome = service.run(service.create_job(write_sample(tmp_path / "src", SPEC), JobContext(
        marketplace=SPEC.marketplace, category=SPEC.category, region=SPEC.region)))
    assert outcome.status == "failed" and outcome.metrics is None
    assert emitter.types()[-1] == "job.failed" and "job.completed" not in emitter.types()
    assert outcome.error.classification == "permanent"
    assert [p for p in private_tmp.iterdir() if p.name.startswith("report-")] == []  # cleaned on failure too


def test_a_large_report_is_uploaded_in_parts_and_its_local_copy_removed(moto_server, s3, bucket, tmp_path):
    store = S3ReportStore(f"s3://{bucket}/reports", endpoint_url=moto_server.endpoint_url, region=REGION)
    body = bytes(range(256)) * (9 * 4096)  # 9 MiB: past boto3's 8 MiB multipart threshold, 8 MiB parts
    with store.staging("job-1") as folder:
        folder.mkdir(parents=True)
        path = folder / "errors.csv"
        path.write_bytes(body)
        assert store.publish("job-1", [path]) == [f"s3://{bucket}/reports/job-1/errors.csv"]
        assert not path.exists()
    assert not folder.parent.exists()
    head = s3.head_object(Bucket=bucket, Key="reports/job-1/errors.csv")
    assert head["ContentLength"] == len(body) and head["ETag"].strip('"').endswith("-2")  # two parts
    assert s3.get_object(Bucket=bucket, Key="reports/job-1/errors.csv")["Body"].read() == body
