"""`make dev` for real: `dagster dev -w workspace.yaml` serves the UI, and the job, the
sensor, the schedule and the assets are in it (asked through the webserver's GraphQL)."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from jobs_pipeline_tests.services import free_port, stop_group

ROOT = Path(__file__).resolve().parents[2]
QUERY = """{ repositoriesOrError { ... on RepositoryConnection { nodes {
  location { name } jobs { name } sensors { name } schedules { name } assetNodes { assetKey { path } }
} } } }"""


def _graphql(port: int) -> dict:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/graphql", data=json.dumps({"query": QUERY}).encode(),
                                 headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


@pytest.mark.slow
def test_dagster_dev_shows_job_sensor_schedule_and_assets(tmp_path):
    port = free_port()
    (tmp_path / "dagster.yaml").symlink_to(ROOT / "dagster.yaml")
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path), "JOBS_PIPELINE_DATA_DIR": str(tmp_path / "data")}
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "dagster"), "dev", "-w", "workspace.yaml", "-p", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        nodes = None
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                data = _graphql(port)
                nodes = data["data"]["repositoriesOrError"].get("nodes")
                if nodes:
                    break
            except (OSError, ValueError, KeyError):
                pass
            time.sleep(1)
        assert nodes, "dagster dev did not serve the code location"
        [repo] = nodes
        assert repo["location"]["name"] == "jobs_pipeline"
        assert "validate_feed" in {j["name"] for j in repo["jobs"]}
        assert "landing_sensor" in {s["name"] for s in repo["sensors"]}
        assert "quality_tables_daily" in {s["name"] for s in repo["schedules"]}
        assets = {"/".join(a["assetKey"]["path"]) for a in repo["assetNodes"]}
        assert {"job_events", "job_runs", "marketplace_quality"} <= assets
    finally:
        stop_group(proc, signal.SIGINT, timeout=30)  # dagster dev maps SIGTERM onto SIGINT
