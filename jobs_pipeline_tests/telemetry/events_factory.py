"""Realistic event streams for the telemetry tests and benchmarks."""

import uuid
from datetime import UTC, datetime, timedelta

from jobs_pipeline.domain.model import JobContext, ValidationJob
from jobs_pipeline.telemetry.events import EventType, TelemetryEvent, make_event

MARKETPLACES = ("google_merchant", "mercado_livre", "amazon", "shopee")
REGIONS = ("BR", "MX", "US", "AR")
NS = uuid.UUID("6f1c2a40-1d1e-4c55-8c1a-3c5d2e9b0a77")
T0 = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def job_for(i: int, tag: str = "t") -> ValidationJob:
    ctx = JobContext(marketplace=MARKETPLACES[i % 4], category=f"cat{i % 3}", region=REGIONS[(i // 4) % 4])
    return ValidationJob(job_id=uuid.uuid5(NS, f"{tag}-{i}"), feed_uri=f"/feeds/{i}.csv", context=ctx)


def job_events(i: int, tag: str = "t") -> list[TelemetryEvent]:
    """started, progress, completed (every 7th job: failed; every 5th: a retry first)."""
    job = job_for(i, tag)
    ts = T0 + timedelta(seconds=i)
    out: list[TelemetryEvent] = []
    attempt = 1
    if i % 5 == 0:
        out.append(make_event(job, EventType.STARTED, attempt=1, sequence=0, metrics={"payload_size_bytes": 10},
                              timestamp=ts))
        out.append(make_event(job, EventType.RETRYING, attempt=1, sequence=1, metrics={"payload_size_bytes": 10},
                              timestamp=ts))
        attempt = 2
    out.append(make_event(job, EventType.STARTED, attempt=attempt, sequence=0, metrics={"payload_size_bytes": 10},
                          timestamp=ts))
    out.append(make_event(job, EventType.PROGRESS, attempt=attempt, sequence=1,
                          metrics={"payload_size_bytes": 10, "records_processed": 100}, timestamp=ts))
    total, bad = 100 + i % 50, i % 9
    final = EventType.FAILED if i % 7 == 0 else EventType.COMPLETED
    metrics = {"payload_size_bytes": 10 + i, "records_total": total, "records_valid": total - bad,
               "records_error": bad, "records_warning": 0, "error_rate": bad / total, "warning_rate": 0.0,
               "processing_time_ms": 1.5 + i % 10, "latency_ms": 3.0, "errors_by_field": {"price": bad}}
    out.append(make_event(job, final, attempt=attempt, sequence=2, metrics=metrics, timestamp=ts))
    return out


def stream(n_jobs: int, tag: str = "t") -> list[TelemetryEvent]:
    return [e for i in range(n_jobs) for e in job_events(i, tag)]
