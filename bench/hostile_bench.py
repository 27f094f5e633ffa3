"""Peak memory and time of ``jobs-pipeline validate`` on each hostile feed of
``jobs_pipeline_tests/corpus/hostile.py``, each in a fresh process (peak RSS is the child's
``ru_maxrss``, from ``os.wait4``).

    .venv/bin/python bench/hostile_bench.py
    .venv/bin/python bench/hostile_bench.py --root /path/to/other/checkout   # same files, other code
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from jobs_pipeline_tests.corpus import hostile  # noqa: E402


def run(root: Path, path: Path, data_dir: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(root), "JOBS_PIPELINE_DATA_DIR": str(data_dir), "TELEMETRY_SINKS": "lake"}
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "jobs_pipeline.cli", "validate", str(path),
                             "--marketplace", "google_merchant", "--region", "BR"],
                            cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate()
    return {"wall_s": time.perf_counter() - start, "exit": proc.returncode, "out": out.decode(), "err": err.decode()}


def run_measured(root: Path, path: Path, data_dir: Path) -> dict:
    """:func:`run` from a fresh process that reports its one child's peak RSS (``RUSAGE_CHILDREN``)."""
    code = ("import json,resource,sys; sys.path.insert(0, sys.argv[1]); from bench.hostile_bench import run; "
            "from pathlib import Path; r = run(Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4])); "
            "r['peak_mb'] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024; print(json.dumps(r))")
    done = subprocess.run([sys.executable, "-c", code, str(ROOT), str(root), str(path), str(data_dir)],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout whose code runs (default: this one)")
    parser.add_argument("--cases", default="", help="comma-separated case names (default: all)")
    args = parser.parse_args()
    cases = {**{n: g for n, (g, _, _) in hostile.UNUSABLE.items()}, **{n: g for n, (g, _) in hostile.READABLE.items()},
             "field_15mb (under the limit: read)": lambda folder: hostile.huge_field(folder, mb=15)}
    wanted = [c for c in args.cases.split(",") if c] or list(cases)
    print(f"# code: {args.root}")
    print("| case | file MB | exit | peak RSS MB | wall s | outcome |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="hostile-bench-") as tmp:
        for name in wanted:
            folder = Path(tmp) / name.split()[0]
            folder.mkdir()
            path = cases[name](folder)
            r = run_measured(args.root, path, Path(tmp) / "data")
            lines = (r["err"].strip() or r["out"].strip()).splitlines()
            outcome = "Traceback" if "Traceback" in r["err"] else (lines[0][:90] if lines else "")
            if r["exit"] == 0:
                outcome = next((ln.strip() for ln in r["out"].splitlines() if "records" in ln), "ok")[:90]
            print(f"| {name} | {path.stat().st_size / 2**20:.1f} | {r['exit']} | {r['peak_mb']:.0f} | "
                  f"{r['wall_s']:.1f} | {outcome.replace('|', '/')} |", flush=True)
            path.unlink()


if __name__ == "__main__":
    main()
