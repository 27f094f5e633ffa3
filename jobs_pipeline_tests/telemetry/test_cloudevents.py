"""CloudEvents mapping and the 64 KiB bound."""

import json
from datetime import datetime

from jobs_pipeline.domain.model import JobContext, ValidationJob
from jobs_pipeline.telemetry.bounds import MAX_EVENT_BYTES, TOP_N
from jobs_pipeline.telemetry.cloudevents import CloudEventsConfig, decode, encode, source_for, to_cloudevent
from jobs_pipeline.telemetry.events import EventType, make_event
from jobs_pipeline_tests.telemetry.events_factory import stream


def test_mapping_of_every_attribute():
    config = CloudEventsConfig(source=source_for("prod", "worker"), type_namespace="com.acme")
    for event in stream(5):
        ce = json.loads(encode(event, config))
        assert ce == to_cloudevent(event, config)
        assert ce["specversion"] == "1.0" and ce["source"] == "urn:jobs-pipeline:prod:worker"
        assert ce["type"] == f"com.acme.jobs.{event.type.value}.v1"
        assert ce["id"] == str(event.event_id) and ce["subject"] == str(event.job_id)
        assert datetime.fromisoformat(ce["time"]) == event.timestamp and ce["time"].endswith("Z")
        assert ce["datacontenttype"] == "application/json" and ce["attempt"] == event.attempt
        assert ce["partitionkey"] == f"{event.marketplace}:{event.category}:{event.region}"
        assert all(k.isalnum() and k.islower() and len(k) <= 20 for k in ce if k != "data")
        assert decode(encode(event, config)) == event


def test_partitionkey_is_never_empty():
    job = ValidationJob(feed_uri="f", context=JobContext(marketplace="amazon", category="", region=None))
    ce = to_cloudevent(make_event(job, EventType.STARTED, attempt=1, sequence=0, metrics={}))
    assert ce["partitionkey"] == "amazon:unknown:unknown"


def test_huge_error_maps_are_cut_to_top_n_with_the_report_link():
    job = ValidationJob(feed_uri="f", context=JobContext(marketplace="amazon"))
    errors = {f"column_{i:05d}_" + "x" * 200: i for i in range(5_000)}
    metrics = {"records_total": 10, "errors_by_field": errors, "errors_by_rule": dict(errors),
               "error_report_uri": "s3://reports/job.jsonl"}
    event = make_event(job, EventType.COMPLETED, attempt=1, sequence=1, metrics=metrics)
    body = encode(event)
    assert len(body) <= MAX_EVENT_BYTES
    data = json.loads(body)["data"]["metrics"]
    assert len(data["errors_by_field"]) == TOP_N
    assert max(data["errors_by_field"].values()) == 4_999  # the largest are kept
    assert data["errors_by_field_truncated"] == {"omitted_keys": 5_000 - TOP_N,
                                                 "omitted_count": sum(range(5_000 - TOP_N))}
    assert data["error_report_uri"] == "s3://reports/job.jsonl"


def test_small_metrics_pass_untouched():
    job = ValidationJob(feed_uri="f", context=JobContext(marketplace="amazon"))
    metrics = {"errors_by_field": {"price": 3}}
    assert make_event(job, EventType.COMPLETED, attempt=1, sequence=1, metrics=metrics).metrics == metrics
