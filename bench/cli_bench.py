"""CLI start-up benchmark: ``jobs-pipeline validate`` on a small feed against a bare
``python -c "import polars"``, side by side in one run (the ratio is what counts on a shared
machine).

    .venv/bin/python bench/cli_bench.py --rows 1000 --rounds 15

Each round runs the commands once each, in a rotating order, in fresh processes, with a
throw-away data folder (``TELEMETRY_SINKS=log,lake``: the CLI's default, so the lake writer is
paid for). Three floors separate what the conventions cost from what our code costs:
``pydantic-settings floor`` is polars plus the smallest possible ``BaseSettings`` class (one
field, none of our code: what "config through pydantic-settings" costs any command);
``import polars + settings`` is polars plus our settings module; ``core models, no settings``
is polars plus the pydantic models the validate path uses (job, ruleset, metrics, events)
without the settings. Printed: min and median wall time of each, and the median of the
per-round ratios to the bare polars import.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

TARGET_RATIO = 1.6
#: The least a command pays to read its configuration through pydantic-settings.
MINIMAL_SETTINGS = ("import polars\nfrom pydantic_settings import BaseSettings\n"
                    "class S(BaseSettings):\n    x: int = 1\nS()")
#: The pydantic models on the validate path, without the settings.
CORE_MODELS = ("jobs_pipeline.domain.model", "jobs_pipeline.validation.ruleset", "jobs_pipeline.jobs.metrics",
               "jobs_pipeline.telemetry.events")


def _wall(cmd: list[str], env: dict[str, str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - t


def main() -> int:
    from feedgen import generate

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cli-bench-") as tmp:
        feed = generate(Path(tmp) / "feed.csv", args.rows)
        env = {**os.environ, "JOBS_PIPELINE_DATA_DIR": str(Path(tmp) / "data"), "TELEMETRY_SINKS": "log,lake"}
        baseline = [sys.executable, "-c", "import polars"]
        cli = [sys.executable, "-m", "jobs_pipeline.cli", "validate", str(feed), "--marketplace", "google_merchant",
               "--category", "apparel", "--region", "BR"]
        minimal = [sys.executable, "-c", MINIMAL_SETTINGS]
        floor = [sys.executable, "-c", "import polars, jobs_pipeline.settings"]
        models = [sys.executable, "-c", "import polars, " + ", ".join(CORE_MODELS)]
        commands = {"python -c 'import polars'": baseline, "pydantic-settings floor": minimal,
                    "import polars + settings": floor, "core models, no settings": models,
                    "jobs-pipeline validate": cli}
        for cmd in commands.values():
            _wall(cmd, env)  # warm the page cache and the bytecode
        times: dict[str, list[float]] = {name: [] for name in commands}
        names = list(commands)
        for i in range(args.rounds):
            for name in names[i % len(names):] + names[:i % len(names)]:
                times[name].append(_wall(commands[name], env))
    base = times[names[0]]
    print(f"rows {args.rows}, rounds {args.rounds}")
    for name, ts in times.items():
        ratio = statistics.median([t / b for t, b in zip(ts, base, strict=True)])
        print(f"{name:28s} min {min(ts):.3f} s  median {statistics.median(ts):.3f} s  ratio {ratio:.2f}x")
    ratio = statistics.median([t / b for t, b in zip(times["jobs-pipeline validate"], base, strict=True)])
    print(f"validate / import polars: {ratio:.2f}x  (target <= {TARGET_RATIO}x)")
    return 0 if ratio <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
