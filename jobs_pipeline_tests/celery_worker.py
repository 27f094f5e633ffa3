"""A real Celery worker as a subprocess (``celery -A <app> worker``) for tests.

A subprocess, not a thread: tests kill it (or its pool child) mid-job. Its environment points
at the test's redis-server and data folder; readiness is read from its log, never waited
for with a fixed sleep.
"""

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from jobs_pipeline_tests.services import stop_group


def wait_until(predicate, *, timeout: float = 30.0, interval: float = 0.1, what: str = "condition"):
    """Poll ``predicate`` until it returns a truthy value (bounded wait, no timed assertion)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


@contextmanager
def celery_worker(env: dict[str, str], log_path: Path, *, app: str = "jobs_pipeline.worker",
                  queues: str = "pro,free", pool: str = "prefork", concurrency: int = 1) -> Iterator[subprocess.Popen]:
    celery = Path(sys.executable).with_name("celery")
    cmd = [str(celery), "-A", app, "worker", "-Q", queues, "--pool", pool, "--concurrency", str(concurrency),
           "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel", "INFO",
           "--hostname", f"test-{os.getpid()}-{time.monotonic_ns()}@%h"]
    full_env = {**os.environ, **env, "PYTHONUNBUFFERED": "1"}
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, env=full_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                cwd=str(Path(__file__).resolve().parents[1]))
    try:
        wait_until(lambda: proc.poll() is not None or b" ready." in log_path.read_bytes(), timeout=60,
                   what="the celery worker to be ready")
        if proc.poll() is not None:
            raise AssertionError(f"celery worker exited {proc.returncode}:\n{log_path.read_text()[-3000:]}")
        yield proc
    finally:
        if proc.poll() is None:
            stop_group(proc, timeout=15)
