"""CLI start-up benchmark: ``jobs-pipeline validate`` on a small feed against a bare
``python -c "import polars"``, side by side in one run (the ratio is what counts on a shared
machine).

    .venv/bin/python bench/cli_bench.py --rows 1000 --rounds 15

Each round runs both commands once, alternating which goes first, in fresh processes, with a
throw-away data folder (``TELEMETRY_SINKS=log,lake``: the CLI's default, so the lake writer is
paid for). Printed: min and median wall time of each, and the median of the per-round ratios.
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
        _wall(baseline, env), _wall(cli, env)  # warm the page cache and the bytecode
        base_t, cli_t, ratios = [], [], []
        for i in range(args.rounds):
            pair = (baseline, cli) if i % 2 == 0 else (cli, baseline)
            times = {id(c): _wall(c, env) for c in pair}
            base_t.append(times[id(baseline)])
            cli_t.append(times[id(cli)])
            ratios.append(cli_t[-1] / base_t[-1])
    ratio = statistics.median(ratios)
    print(f"rows {args.rows}, rounds {args.rounds}")
    print(f"python -c 'import polars'   min {min(base_t):.3f} s  median {statistics.median(base_t):.3f} s")
    print(f"jobs-pipeline validate      min {min(cli_t):.3f} s  median {statistics.median(cli_t):.3f} s")
    print(f"ratio (median of rounds)    {ratio:.2f}x  (target <= {TARGET_RATIO}x)")
    return 0 if ratio <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
