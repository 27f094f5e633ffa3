"""``sole_errors_by_rule`` from the validator to the event: carried by ``ValidationMetrics``,
checked against ``records_error``, and bounded like ``errors_by_rule``."""

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from jobs_pipeline.domain.model import JobContext, ValidationJob
from jobs_pipeline.jobs.metrics import MetricsCollector, ValidationMetrics
from jobs_pipeline.telemetry.bounds import MAX_EVENT_BYTES, TOP_N
from jobs_pipeline.telemetry.cloudevents import encode
from jobs_pipeline.telemetry.events import EventType, make_event
from jobs_pipeline.validation.engine import validate_file
from jobs_pipeline.validation.ruleset import Ruleset

RULESET = Ruleset.model_validate({
    "name": "sole", "version": "1", "marketplace": "amazon",
    "rules": [{"field": "price", "kind": "type", "type": "decimal"}, {"field": "title", "kind": "length", "max": 5}],
})


def test_the_collector_carries_the_validators_map(tmp_path: Path) -> None:
    feed = tmp_path / "feed.csv"
    feed.write_text("price,title\nx,ok\nx,toolongtitle\n1,toolongtitle\n2,ok\n", encoding="utf-8")
    result = validate_file(feed, RULESET)
    job = ValidationJob(feed_uri=str(feed), context=JobContext(marketplace="amazon"))
    m = MetricsCollector(job, ruleset="sole@1").start().collect(result)
    assert m.sole_errors_by_rule == {"price.type": 1, "title.length": 1}
    assert m.errors_by_rule == {"price.type": 2, "title.length": 2} and m.records_error == 3
    assert json.loads(m.model_dump_json())["sole_errors_by_rule"] == {"price.type": 1, "title.length": 1}


def test_metrics_refuse_more_sole_errors_than_error_records() -> None:
    base = dict(payload_size_bytes=1, processing_time_ms=1.0, latency_ms=1.0, marketplace="m", category="c",
                region="R", ruleset="m@1", tier="free", records_total=10, records_valid=8, records_error=2,
                records_warning=0, error_rate=0.2, warning_rate=0.0)
    assert ValidationMetrics(**base, sole_errors_by_rule={"a": 1, "b": 1}).sole_errors_by_rule == {"a": 1, "b": 1}
    with pytest.raises(ValidationError, match="sole_errors_by_rule"):
        ValidationMetrics(**base, sole_errors_by_rule={"a": 2, "b": 1})


def test_a_huge_sole_map_is_cut_to_top_n_like_errors_by_rule() -> None:
    job = ValidationJob(feed_uri="f", context=JobContext(marketplace="amazon"))
    sole = {f"rule_{i:05d}_" + "x" * 200: i for i in range(5_000)}
    metrics = {"records_total": 10, "errors_by_rule": dict(sole), "sole_errors_by_rule": sole}
    body = encode(make_event(job, EventType.COMPLETED, attempt=1, sequence=1, metrics=metrics))
    assert len(body) <= MAX_EVENT_BYTES
    data = json.loads(body)
    kept = data["data"]["metrics"]["sole_errors_by_rule"]
    assert len(kept) == TOP_N and min(kept.values()) == 5_000 - TOP_N
    assert all(len(k) == 120 for k in kept)
    assert data["data"]["metrics"]["sole_errors_by_rule_truncated"] == {
        "omitted_keys": 5_000 - TOP_N, "omitted_count": sum(range(5_000 - TOP_N))}
