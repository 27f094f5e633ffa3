"""validate_feed on s3:// feeds: identical metrics to a local folder, quarantine of unusable
objects, the size limit, and no secret in events or logs."""

import json
import logging

import pytest

from jobs_pipeline.defs.feeds.validate_feed import validate_feed
from jobs_pipeline.demo.samples import DEMO_FEEDS, write_sample
from jobs_pipeline.settings import load_settings
from jobs_pipeline.storage.s3_objects import REASON_SUFFIX
from jobs_pipeline_tests.aws.harness import landing_resource
from jobs_pipeline_tests.dagster_helpers import feed_run_config, resources_for

VARYING = {"processing_time_ms", "latency_ms", "error_report_uri"}


def _run(settings, instance, resources, path, spec, **kw):
    return validate_feed.execute_in_process(
        run_config=feed_run_config(path, spec.marketplace, spec.category, spec.region), instance=instance,
        resources=resources, raise_on_error=False, **kw)


def _lake_events(s3, bucket):
    objs = s3.list_objects_v2(Bucket=bucket, Prefix="lake/").get("Contents", [])
    return [json.loads(line) for o in objs
            for line in s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read().decode().splitlines()]


def test_the_same_feed_gives_the_same_metrics_from_s3_as_from_a_local_folder(
        moto_server, s3, bucket, settings, instance):
    spec = DEMO_FEEDS[0]
    local = write_sample(settings.data_dir / "landing", spec)
    key = f"landing/{spec.relpath}"
    s3.upload_file(str(local), bucket, key)
    resources = resources_for(settings)
    resources["s3_landing"] = landing_resource(moto_server, bucket)

    from_s3 = _run(settings, instance, resources, f"s3://{bucket}/{key}", spec)
    from_disk = _run(settings, instance, resources, local, spec)
    assert from_s3.success and from_disk.success
    s3_out, disk_out = (r.output_for_node("run_validation") for r in (from_s3, from_disk))
    assert s3_out.job.feed_uri == f"s3://{bucket}/{key}"  # the outcome names the object, not a temp copy
    assert s3_out.metrics.records_total == spec.rows and s3_out.metrics.records_error > 0
    assert s3_out.metrics.payload_size_bytes == local.stat().st_size
    assert (s3_out.metrics.model_dump(exclude=VARYING) == disk_out.metrics.model_dump(exclude=VARYING))


@pytest.mark.parametrize("body, limit, error_type", [
    (b"", 2 << 30, "FeedFormatError"),
    (b"id,title\n" + b"SKU,x\n" * 50, 64, "ObjectTooLargeError"),
])
def test_an_unusable_s3_feed_fails_with_job_failed_and_is_quarantined_with_the_original_intact(
        moto_server, s3, bucket, settings, instance, monkeypatch, body, limit, error_type):
    monkeypatch.setenv("JOBS_PIPELINE_LAKE_URI", f"s3://{bucket}/lake")
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server.endpoint_url)
    settings = load_settings()
    spec = DEMO_FEEDS[2]
    key = f"landing/{spec.relpath}"
    s3.put_object(Bucket=bucket, Key=key, Body=body)
    resources = resources_for(settings)
    resources["s3_landing"] = landing_resource(moto_server, bucket, max_object_bytes=limit)

    result = _run(settings, instance, resources, f"s3://{bucket}/{key}", spec)
    assert not result.success
    assert error_type in result.failure_data_for_node("run_validation").error.message
    events = _lake_events(s3, bucket)
    assert [e["type"] for e in events] == ["job.started", "job.failed"]
    assert events[-1]["error"]["error_type"] == error_type
    copy_key = f"quarantine/{spec.relpath}"
    assert s3.get_object(Bucket=bucket, Key=copy_key)["Body"].read() == body
    reason = json.loads(s3.get_object(Bucket=bucket, Key=copy_key + REASON_SUFFIX)["Body"].read())
    assert reason["reason"].startswith(error_type) and reason["source"] == f"s3://{bucket}/{key}"
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == body  # original intact


def test_no_secret_reaches_events_logs_or_run_records(moto_server, s3, bucket, settings, instance, monkeypatch,
                                                      caplog):
    secret = "zSECRETx9Qw7-do-not-leak-Pq1"
    token = "zTOKENx4Lm2-do-not-leak-Rt8"
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    monkeypatch.setenv("AWS_SESSION_TOKEN", token)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server.endpoint_url)
    monkeypatch.setenv("JOBS_PIPELINE_LAKE_URI", f"s3://{bucket}/lake")
    monkeypatch.setenv("TELEMETRY_SINKS", "log,lake")
    settings = load_settings()
    spec = DEMO_FEEDS[3]
    local = write_sample(settings.data_dir / "in", spec)
    key = f"landing/{spec.relpath}"
    s3.upload_file(str(local), bucket, key)
    resources = resources_for(settings)
    resources["s3_landing"] = landing_resource(moto_server, bucket)

    caplog.set_level(logging.DEBUG)
    result = _run(settings, instance, resources, f"s3://{bucket}/{key}", spec)
    assert result.success
    events = _lake_events(s3, bucket)
    assert [e["type"] for e in events] == ["job.started", "job.completed"]  # really ran on S3 with the secret
    assert any("job.completed" in r.getMessage() for r in caplog.records)  # the log sink was captured
    # botocore's DEBUG request logs were captured too: they carry the token header, redacted
    assert "X-Amz-Security-Token': b'***'" in caplog.text

    captured = [json.dumps(events), caplog.text]
    captured += [r.getMessage() for r in caplog.records]
    captured += [str(entry) for entry in instance.all_logs(result.run_id)]
    captured.append(json.dumps(instance.get_run_by_id(result.run_id).run_config, default=str))
    captured.append(repr(resources["s3_landing"]))
    for text in captured:
        assert secret not in text and token not in text


def test_redaction_covers_headers_canonical_requests_and_presigned_urls():
    from jobs_pipeline.storage.log_redaction import redact

    assert redact("{'X-Amz-Security-Token': b'abc/def+='}") == "{'X-Amz-Security-Token': b'***'}"
    assert redact("host;x\nx-amz-security-token:abc123\n") == "host;x\nx-amz-security-token:***\n"
    assert redact("https://b.s3/k?X-Amz-Security-Token=abc%2F&X-Amz-Signature=1") == (
        "https://b.s3/k?X-Amz-Security-Token=***&X-Amz-Signature=1")
    assert redact("aws_secret_access_key = wJalr") == "aws_secret_access_key = ***"
