"""Install and first-start times of the local Superset (``make bi``), on a scratch folder.

    .venv/bin/python bench/bi_start_bench.py [--cold-cache] [--out bench/out/bi]

1. ``uv venv`` + ``uv pip install -r bi/requirements.txt`` into a new virtualenv (``--cold-cache``:
   with an empty uv cache, i.e. downloading every wheel; else from the developer's cache);
2. ``bi/bootstrap.py`` into an empty SUPERSET_HOME (db upgrade, init, admin, import), on a sample
   snapshot (``jobs_pipeline_tests/bi/sample_snapshot.py``);
3. the same again (what a second ``make bi`` does before serving);
4. ``superset run`` until ``/health`` answers.
Prints one line per step (seconds) and the virtualenv's size. Figures: docs/benchmarks.md.
"""

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from jobs_pipeline_tests.bi import sample_snapshot  # noqa: E402
from jobs_pipeline_tests.services import free_port  # noqa: E402


def timed(label: str, cmd: list[str], env: dict | None = None) -> float:
    started = time.monotonic()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    took = time.monotonic() - started
    print(f"{label}: {took:.1f} s", flush=True)
    return took


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "bi")
    parser.add_argument("--cold-cache", action="store_true")
    args = parser.parse_args()
    out = args.out.resolve()
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    venv = out / "venv"
    uv = str(ROOT / ".venv" / "bin" / "uv")
    env = {**os.environ}
    if args.cold_cache:
        env["UV_CACHE_DIR"] = str(out / "uv-cache")
    timed("uv venv + install bi/requirements.txt" + (" (cold cache)" if args.cold_cache else " (warm cache)"),
          ["bash", "-c", f"{uv} venv -q --python 3.11 {venv} && "
                         f"{uv} pip install -q --python {venv}/bin/python -r {ROOT}/bi/requirements.txt"], env)
    size = subprocess.run(["du", "-sh", str(venv)], capture_output=True, text=True).stdout.split()[0]
    print(f"virtualenv size: {size}")
    snapshot = out / "quality.snapshot.duckdb"
    sample_snapshot.build(out / "quality.duckdb", snapshot)
    env = {**os.environ, "SUPERSET_CONFIG_PATH": str(ROOT / "bi" / "superset_config.py"),
           "SUPERSET_HOME": str(out / "home"), "FLASK_APP": "superset"}
    boot = [str(venv / "bin" / "python"), str(ROOT / "bi" / "bootstrap.py"), "--snapshot", str(snapshot)]
    timed("first start (bootstrap into an empty home)", boot, env)
    timed("second start (nothing to do)", boot, env)
    port = free_port()
    started = time.monotonic()
    server = subprocess.Popen([str(venv / "bin" / "superset"), "run", "-h", "127.0.0.1", "-p", str(port)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        print(f"superset run until /health answers: {time.monotonic() - started:.1f} s")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
