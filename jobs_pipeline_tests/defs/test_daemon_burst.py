"""The real daemon (``dagster dev`` as ``make dev`` starts it) after ``make demo``: the demo's
feeds never run again, and 30 feeds landed at once each complete exactly once."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jobs_pipeline_tests.defs.dev_server import ROOT, DagsterDev
from jobs_pipeline_tests.services import free_port

MARKETS = [("google_merchant", "apparel", "US"), ("amazon", "electronics", "US"), ("mercado_livre", "home", "AR")]
FEEDS = 30


def land(landing: Path, n: int) -> list[Path]:
    sys.path.insert(0, str(ROOT / "bench"))
    from feedgen import generate

    staged = [generate(landing.parent / "staging" / f"feed-{i:03d}.csv", rows=100, seed=i) for i in range(n)]
    paths = []
    for i, path in enumerate(staged):  # every feed lands at once (a rename each)
        marketplace, category, region = MARKETS[i % len(MARKETS)]
        target = landing / marketplace / category / region / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, target)
        paths.append(target)
    return paths


@pytest.mark.slow
def test_demo_then_daemon_runs_every_landed_feed_exactly_once(tmp_path):
    home, data = tmp_path / "home", tmp_path / "data"
    dev = DagsterDev(home, data, free_port())
    demo = subprocess.run([str(Path(sys.executable).parent / "jobs-pipeline"), "demo"], cwd=ROOT, env=dev.env,
                          capture_output=True, text=True, timeout=180)
    assert demo.returncode == 0, demo.stderr[-2000:]
    demo_jobs = dev.terminal()
    assert len(demo_jobs) == 5  # four sample feeds and the broken export

    with dev:
        landed = land(data / "landing", FEEDS)
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and len(dev.terminal()) < len(demo_jobs) + FEEDS:
            time.sleep(1)
        time.sleep(12)  # two more sensor ticks: nothing may run again
        done = dev.terminal()

    new = {job_id: events for job_id, events in done.items() if job_id not in demo_jobs}
    assert len(new) == FEEDS, f"{len(new)} of {FEEDS} feeds completed; runs: {dev.run_statuses()}"
    assert all([e["type"] for e in events] == ["job.completed"] for events in new.values())
    assert {e["job_id"] for events in done.values() for e in events} == set(demo_jobs) | set(new)
    for job_id, events in demo_jobs.items():  # the demo's feeds were not validated a second time
        assert len(done[job_id]) == len(events) == 1
    assert len(landed) == FEEDS
