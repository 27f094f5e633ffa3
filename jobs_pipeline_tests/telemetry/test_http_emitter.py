"""HTTPTelemetryEmitter against a real collector on 127.0.0.1 that misbehaves.

After every fault (500, 429 + Retry-After, 413, slow answers, dropped connections, an
outage), the collector's events de-duplicated by id must be exactly the emitted ones. The
outage lasts ``OUTAGE_S`` (the issue's 60 s shortened: the code path, spooling and replay, is
the same; the backoff is configured small to match).
"""

import json
import logging
import random

import pytest

from jobs_pipeline.telemetry.cloudevents import decode
from jobs_pipeline.telemetry.events import InvalidEventError, TelemetryEvent
from jobs_pipeline.telemetry.http import HTTPSinkConfig, HTTPTelemetryEmitter
from jobs_pipeline_tests.telemetry.collector import Collector
from jobs_pipeline_tests.telemetry.events_factory import stream

OUTAGE_S = 3.0
TOKEN = "tok-very-secret-123"


def _config(url: str, **kw) -> HTTPSinkConfig:
    base = dict(url=url, token=TOKEN, max_batch_events=50, max_batch_age_s=0.05, timeout_s=0.5,
                backoff_base_s=0.02, backoff_cap_s=0.2, close_timeout_s=5)
    return HTTPSinkConfig(**{**base, **kw})


@pytest.fixture
def collector():
    c = Collector()
    yield c
    c.stop()


def _expected(events: list[TelemetryEvent]) -> set[str]:
    return {str(e.event_id) for e in events}


def test_every_fault_kind_then_exact_delivery(collector, tmp_path, caplog):
    collector.max_events = 20  # bigger batches get 413 and must be split
    collector.faults.extend([500, ("429", 1), "drop", ("slow", 1.0), 502, 503, 504])
    events = stream(60)
    caplog.set_level(logging.DEBUG)
    emitter = HTTPTelemetryEmitter(_config(collector.url), spool_dir=tmp_path, rng=random.Random(1))
    for event in events:
        emitter.emit(event)
    assert emitter.drain(timeout=60)
    emitter.close()

    ids = collector.ids()
    assert set(ids) == _expected(events)  # none missing, none extra
    assert len(ids) > len(set(ids)) or emitter.stats.splits > 0
    faults = [r["fault"] for r in collector.requests if r["fault"] is not None]
    assert faults == [500, ("429", 1), "drop", ("slow", 1.0), 502, 503, 504]  # each one was hit
    # the same batch was re-sent through every transient fault, with one stable key
    first = collector.requests[0]
    retried = [r for r in collector.requests if r["events"] == first["events"]]
    assert len(retried) >= 8 and {r["key"] for r in retried} == {first["key"]}
    assert 1.0 in emitter.stats.waits  # Retry-After: 1 was obeyed, not the 0.02 s backoff
    assert emitter.stats.splits >= 1 and emitter.stats.dead_events == 0
    assert all(len(r["events"]) <= 20 for r in collector.requests if r.get("status") == 202)
    assert any(r.get("status") == 413 for r in collector.requests)
    assert TOKEN not in caplog.text and TOKEN not in repr(emitter) and TOKEN not in repr(emitter.config)
    assert all(r["headers"]["Authorization"] == f"Bearer {TOKEN}" for r in collector.requests)


def test_outage_spools_to_disk_and_replays_in_order(collector, tmp_path):
    events = stream(100)  # 340 events
    emitter = HTTPTelemetryEmitter(_config(collector.url, max_queue_events=100), spool_dir=tmp_path)
    for event in events[:40]:
        emitter.emit(event)
    assert emitter.drain(timeout=10)
    collector.stop()  # the sink goes away: connections refused
    for event in events[40:]:
        emitter.emit(event)
    emitter.flush()
    import time

    deadline = time.monotonic() + OUTAGE_S
    spooled_during_outage = 0
    while time.monotonic() < deadline:
        spooled_during_outage = max(spooled_during_outage, emitter.spool.events)
        time.sleep(0.05)
    assert spooled_during_outage > 0 and emitter.stats.failed_requests > 0
    assert emitter.stats.delivered_events == 40
    collector.start()  # back, same port
    assert emitter.drain(timeout=30)
    emitter.close()

    ids = collector.ids()
    assert set(ids) == _expected(events) and len(ids) == len(events)
    order = {str(e.event_id): i for i, e in enumerate(events)}
    positions = [order[i] for i in ids]
    assert positions == sorted(positions)  # replayed in emission order
    assert not list(tmp_path.glob("w-*/*.batch"))  # the backlog is gone once delivered


def test_close_during_outage_keeps_the_backlog_for_the_next_process(collector, tmp_path):
    events = stream(30)
    collector.stop()
    first = HTTPTelemetryEmitter(_config(collector.url), spool_dir=tmp_path)
    for event in events:
        first.emit(event)
    first.close(timeout=0.5)
    assert sum(1 for _ in tmp_path.glob("w-*/*.batch")) > 0
    assert collector.ids() == []

    collector.start()
    second = HTTPTelemetryEmitter(_config(collector.url), spool_dir=tmp_path)  # adopts the backlog
    assert second.drain(timeout=20)
    second.close()
    assert set(collector.ids()) == _expected(events)


def test_400_is_never_retried_and_goes_to_dead_letters(collector, tmp_path):
    collector.faults.append(400)
    events = stream(3)
    emitter = HTTPTelemetryEmitter(_config(collector.url, max_batch_events=100), spool_dir=tmp_path)
    for event in events:
        emitter.emit(event)
    assert emitter.drain(timeout=10)
    emitter.close()
    assert len(collector.requests) == 1 and collector.ids() == []
    dead = [json.loads(line) for f in (tmp_path / "dead").glob("*.jsonl") for line in f.read_text().splitlines()]
    assert {d["id"] for d in dead} == _expected(events) and emitter.stats.dead_events == len(events)


def test_a_single_event_too_large_for_the_server_is_dead_lettered_not_retried(collector, tmp_path):
    collector.max_events = 0  # everything is "too large"
    events = stream(1)
    emitter = HTTPTelemetryEmitter(_config(collector.url), spool_dir=tmp_path)
    for event in events:
        emitter.emit(event)
    assert emitter.drain(timeout=10)
    emitter.close()
    sizes = [len(r["events"]) for r in collector.requests]
    assert sizes[0] == len(events) and sizes[-1] == 1 and len(sizes) == 2 * len(events) - 1  # halves only
    assert emitter.stats.dead_events == len(events)


@pytest.mark.parametrize("mode", ["batch", "structured"])
def test_wire_format_is_cloudevents_gzip(collector, tmp_path, mode):
    events = stream(2)
    emitter = HTTPTelemetryEmitter(_config(collector.url, mode=mode), spool_dir=tmp_path)
    for event in events:
        emitter.emit(event)
    assert emitter.drain(timeout=10)
    emitter.close()
    request = collector.requests[0]
    expected_type = "application/cloudevents-batch+json" if mode == "batch" else "application/cloudevents+json"
    assert request["headers"]["Content-Type"] == expected_type
    assert request["headers"]["Content-Encoding"] == "gzip"
    body = json.loads(request["body"])
    first = body[0] if mode == "batch" else body
    assert first["specversion"] == "1.0" and first["type"].endswith(".jobs.job.started.v1")
    assert decode(first) == events[0]
    if mode == "structured":
        assert len(collector.requests) == len(events)


def test_a_half_event_never_leaves(tmp_path, collector):
    event = stream(1)[0]
    half = TelemetryEvent.model_construct(**{k: v for k, v in event.model_dump().items() if k != "marketplace"})
    emitter = HTTPTelemetryEmitter(_config(collector.url), spool_dir=tmp_path)
    with pytest.raises(InvalidEventError):
        emitter.emit(half)
    with pytest.raises(InvalidEventError):
        emitter.emit(event.model_dump())  # type: ignore[arg-type]
    emitter.close()
    assert collector.requests == []


def test_idempotency_key_is_the_body_hash(collector, tmp_path):
    """The Idempotency-Key is the SHA-256 of the uncompressed body the collector decoded."""
    import hashlib

    emitter = HTTPTelemetryEmitter(_config(collector.url), spool_dir=tmp_path)
    for event in stream(5):
        emitter.emit(event)
    assert emitter.drain(timeout=10)
    emitter.close()
    request = collector.requests[0]
    assert request["key"] == hashlib.sha256(request["body"]).hexdigest()
