"""ValidationMetrics invariants and the MetricsCollector (the one way metrics are made)."""

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from jobs_pipeline.domain.model import JobContext, ValidationJob
from jobs_pipeline.jobs.metrics import MetricsCollector, ValidationMetrics, rate
from jobs_pipeline.validation.result import ValidationResult

BASE = dict(payload_size_bytes=10, processing_time_ms=1.0, latency_ms=2.0, marketplace="m", category="c",
            region="R", ruleset="m@1", tier="free")


def metrics(**kw):
    counts = dict(records_total=10, records_valid=8, records_error=2, records_warning=1,
                  error_rate=0.2, warning_rate=0.1)
    return ValidationMetrics(**{**BASE, **counts, **kw})


def test_valid_metrics_are_accepted():
    m = metrics()
    assert m.partition_key == "m:c:R"


@pytest.mark.parametrize("change", [
    {"records_total": -1},
    {"records_valid": 9},  # 9 + 2 > 10
    {"records_warning": 9, "warning_rate": 0.9},  # warnings are valid records
    {"error_rate": 0.5},  # must equal records_error / records_total
    {"error_rate": 1.5},
])
def test_invariants_are_enforced(change):
    with pytest.raises(ValidationError):
        metrics(**change)


def test_rates_are_zero_without_records():
    assert rate(0, 0) == 0.0
    m = metrics(records_total=0, records_valid=0, records_error=0, records_warning=0, error_rate=0.0,
                warning_rate=0.0)
    assert m.error_rate == 0.0


def test_collector_times_computes_rates_and_enriches_with_context():
    ticks = iter([100.0, 100.25])
    enqueued = datetime(2026, 1, 1, tzinfo=UTC)
    job = ValidationJob(feed_uri="f", context=JobContext(marketplace="amazon", category="toys", region="us",
                                                         tier="pro"), enqueued_at=enqueued)
    collector = MetricsCollector(job, ruleset="amazon@1", clock=lambda: next(ticks),
                                 now=lambda: enqueued + timedelta(seconds=3)).start()
    collector.payload_size_bytes = 1234
    result = ValidationResult(records_total=4, records_valid=3, records_error=1, records_warning=1,
                              errors_by_field={"price": 1}, errors_by_rule={"price.required": 1})
    m = collector.collect(result)
    assert m.processing_time_ms == 250.0
    assert m.latency_ms == 3000.0
    assert (m.error_rate, m.warning_rate) == (0.25, 0.25)
    assert (m.marketplace, m.category, m.region, m.tier, m.ruleset) == ("amazon", "toys", "US", "pro", "amazon@1")
    assert m.errors_by_field == {"price": 1} and m.payload_size_bytes == 1234
