"""The HTTP sink loses nothing to a crash during a collector outage: a real child process emits
to a collector that is down (refused), failing (503) or hanging (no answer), flushes, and is
killed with SIGKILL; a new emitter on the same spool delivers every event exactly once."""

import os
import signal
import socket
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from jobs_pipeline.telemetry.http import HTTPSinkConfig, HTTPTelemetryEmitter
from jobs_pipeline_tests.telemetry.collector import Collector
from jobs_pipeline_tests.telemetry.events_factory import stream

N = 20
REPO = Path(__file__).resolve().parents[2]

#: Emits a first pair (the sender takes it, fails and backs off), then the rest, flushes, says
#: so, and waits to be killed.
CHILD = textwrap.dedent("""
    import sys, time
    from jobs_pipeline.telemetry.http import HTTPSinkConfig, HTTPTelemetryEmitter
    from jobs_pipeline_tests.telemetry.events_factory import stream

    url, spool, n, timeout = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    config = HTTPSinkConfig(url=url, max_batch_events=50, max_batch_age_s=0.05, timeout_s=timeout,
                            backoff_base_s=5.0, backoff_cap_s=30.0)
    emitter = HTTPTelemetryEmitter(config, spool_dir=spool)
    events = stream(10, "crash")[:n]
    for event in events[:2]:
        emitter.emit(event)
    time.sleep(0.5)
    for event in events[2:]:
        emitter.emit(event)
    emitter.flush()
    print("flushed", flush=True)
    time.sleep(600)
""")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def outage(request, httpserver: HTTPServer):
    """(collector URL, client timeout) for each way a collector can be unavailable."""
    kind = request.param
    if kind == "refused":
        yield f"http://127.0.0.1:{_closed_port()}/events", 1.0
    elif kind == "503":
        httpserver.expect_request("/events", method="POST").respond_with_data("down", status=503)
        yield httpserver.url_for("/events"), 1.0
    else:  # hanging: accepts connections, never answers (the POST is in flight at the kill)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            s.listen(16)
            yield f"http://127.0.0.1:{s.getsockname()[1]}/events", 60.0


@pytest.mark.parametrize("outage", ["refused", "503", "hanging"], indirect=True)
def test_sigkill_during_an_outage_loses_nothing(outage, tmp_path: Path) -> None:
    url, timeout = outage
    spool = tmp_path / "spool"
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
    child = subprocess.Popen([sys.executable, "-c", CHILD, url, str(spool), str(N), str(timeout)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=str(REPO))
    try:
        line = child.stdout.readline()
        assert line.strip() == b"flushed", child.stderr.read().decode()[-2000:]
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    assert child.returncode == -signal.SIGKILL

    collector = Collector()
    try:
        emitter = HTTPTelemetryEmitter(HTTPSinkConfig(url=collector.url, max_batch_age_s=0.05, timeout_s=2.0,
                                                      backoff_base_s=0.02, backoff_cap_s=0.2), spool_dir=spool)
        assert emitter.drain(timeout=30)
        emitter.close()
        counts = Counter(collector.ids())
    finally:
        collector.stop()
    expected = {str(e.event_id) for e in stream(10, "crash")[:N]}
    assert set(counts) == expected, f"{len(expected - set(counts))} of {N} events lost"
    assert set(counts.values()) == {1}  # exactly once
