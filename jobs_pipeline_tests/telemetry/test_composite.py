"""CompositeTelemetryEmitter: a failing or slow sink never fails, loses or blocks the others."""

import json
import threading
import time
from pathlib import Path

from jobs_pipeline.domain.model import JobContext
from jobs_pipeline.jobs.service import JobService
from jobs_pipeline.queue.memory import InMemoryQueuePublisher
from jobs_pipeline.demo.samples import DEMO_FEEDS, write_sample
from jobs_pipeline.telemetry.composite import CompositeTelemetryEmitter
from jobs_pipeline.telemetry.http import HTTPSinkConfig, HTTPTelemetryEmitter
from jobs_pipeline.telemetry.lake import PART_GLOB, LakeTelemetryEmitter
from jobs_pipeline.telemetry.memory import InMemoryTelemetryEmitter
from jobs_pipeline_tests.telemetry.events_factory import stream


class BrokenSink:
    """Every call fails with a permanent error (a misconfigured best-effort destination)."""

    wait_on_flush = False  # best effort: its losses are counted, never the job's failure

    def __init__(self) -> None:
        self.calls = 0

    def emit(self, event) -> None:
        self.calls += 1
        raise PermissionError("denied")

    def flush(self) -> None:
        raise PermissionError("denied")

    def close(self) -> None:
        raise PermissionError("denied")


class GatedSink(InMemoryTelemetryEmitter):
    """A sink stuck until the test opens the gate (a destination hanging on I/O)."""

    wait_on_flush = False

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()

    def emit(self, event) -> None:
        self.gate.wait()
        super().emit(event)


def _wait_until(condition, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)


def _lake_ids(lake: Path) -> list[str]:
    return [json.loads(line)["event_id"] for f in sorted(lake.glob(PART_GLOB)) for line in f.read_text().splitlines()]


def test_permanently_failing_sink_while_the_lake_gets_everything_and_the_job_completes(tmp_path):
    lake = tmp_path / "lake"
    broken, stuck = BrokenSink(), GatedSink()
    composite = CompositeTelemetryEmitter([LakeTelemetryEmitter(lake), broken, stuck], flush_timeout_s=5)
    service = JobService(InMemoryQueuePublisher(), composite, progress_every=250)
    feed = write_sample(tmp_path / "feeds", DEMO_FEEDS[0])
    job = service.create_job(feed, JobContext(marketplace="google_merchant", category="electronics", region="BR"))

    outcome = service.run(job)  # returns although one sink fails and one is stuck

    assert outcome.ok, outcome.error
    ids = _lake_ids(lake)  # visible right after run: the lake's flush was waited for
    assert len(ids) == len(set(ids)) >= 3
    types = [json.loads(line)["type"] for f in lake.glob(PART_GLOB) for line in f.read_text().splitlines()]
    assert types[0] == "job.started" and types[-1] == "job.completed"
    _wait_until(lambda: composite.failures.get("BrokenSink", 0) >= len(ids))  # best effort: not waited for
    assert composite.failures["BrokenSink"] >= len(ids)  # counted, never raised
    assert broken.calls == len(ids)  # permanent: tried once each, not retried
    assert stuck.events == []
    stuck.gate.set()  # the stuck sink recovers and gets its own copy, in order
    composite.close()
    assert [str(e.event_id) for e in stuck.events] == ids


def test_a_dead_http_sink_never_slows_the_lake(tmp_path):
    lake = tmp_path / "lake"
    http = HTTPTelemetryEmitter(HTTPSinkConfig(url="http://127.0.0.1:9/none", timeout_s=0.2, backoff_base_s=0.05,
                                               backoff_cap_s=0.1, close_timeout_s=0.3),
                                spool_dir=tmp_path / "spool")
    composite = CompositeTelemetryEmitter([LakeTelemetryEmitter(lake), http])
    events = stream(50)
    for event in events:
        composite.emit(event)
    composite.flush()
    assert set(_lake_ids(lake)) == {str(e.event_id) for e in events}
    time.sleep(0.3)  # let the http sink fail at least once
    composite.close()
    assert http.stats.failed_requests >= 1 and http.stats.delivered_events == 0
    spooled = sum(len(p.read_bytes().splitlines()) for p in (tmp_path / "spool").glob("w-*/*.batch"))
    assert spooled == len(events)  # kept for later, not lost


def test_transient_sink_errors_are_retried_per_sink(tmp_path):
    class Flaky(InMemoryTelemetryEmitter):
        def __init__(self) -> None:
            super().__init__()
            self.fail_next = 2

        def emit(self, event) -> None:
            if self.fail_next:
                self.fail_next -= 1
                raise ConnectionResetError("reset")
            super().emit(event)

    flaky, memory = Flaky(), InMemoryTelemetryEmitter()
    composite = CompositeTelemetryEmitter([flaky, memory], backoff_s=0.01)
    events = stream(3)
    for event in events:
        composite.emit(event)
    composite.flush()
    assert flaky.events == events == memory.events
    assert composite.stats()["Flaky"].retries == 2 and composite.failures == {}
    composite.close()
