"""Backtest benchmark: ``rules backtest`` reading each feed once (both versions as one tagged
ruleset) against reading it once per version, on the same seeded feeds, in one run.

    .venv/bin/python bench/backtest_bench.py --rows 1000000 --feeds 2 --rounds 3

Old: ``google_merchant@2``; new: the same with ``title`` limited to 100 characters and no
``availability`` check (category ``apparel``, region ``BR``). Each round runs both modes in
fresh processes, alternating which goes first; printed: wall time inside the process (imports
excluded) per mode and the median per-round ratio two-reads / one-read.
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]


def _versions():
    import yaml

    from jobs_pipeline.validation.ruleset import RULESETS_DIR, load_ruleset, parse_ruleset

    data = yaml.safe_load((RULESETS_DIR / "google_merchant.yaml").read_text())
    data["version"] = "3"
    data["rules"] = [r for r in data["rules"] if not (r.get("field") == "availability" and r.get("kind") == "enum")]
    for r in data["rules"]:
        if r.get("field") == "title" and r.get("kind") == "length":
            r["max"] = 100
    return load_ruleset("google_merchant@2"), parse_ruleset(yaml.safe_dump(data), "google_merchant.v3.yaml")


def work(mode: str, paths: list[str]) -> dict:
    from jobs_pipeline.validation import backtest as bt

    old, new = _versions()
    if mode == "two_reads":
        bt.mergeable = lambda a, b: False
        bt.mergeable_for = lambda columns, a, b: False
    feeds = [bt.Feed(Path(p), "apparel", "BR", Path(p).name) for p in paths]
    t = time.perf_counter()
    result = bt.backtest(feeds, old, new)
    return {"work_s": time.perf_counter() - t, "reads": sum(f.reads for f in result.feeds),
            "check": bt.as_json(result)["rules"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--feeds", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--work", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.work:
        print(json.dumps(work(args.work[0], args.work[1:])))
        return 0
    from feedgen import generate

    with tempfile.TemporaryDirectory(prefix="backtest-bench-") as tmp:
        paths = [str(generate(Path(tmp) / f"feed-{i}.csv", args.rows, seed=42 + i)) for i in range(args.feeds)]
        times: dict[str, list[float]] = {"one_read": [], "two_reads": []}
        checks = {}
        for i in range(args.rounds):
            order = ["one_read", "two_reads"] if i % 2 == 0 else ["two_reads", "one_read"]
            for mode in order:
                out = subprocess.run([sys.executable, __file__, "--work", mode, *paths], check=True,
                                     capture_output=True, text=True).stdout
                got = json.loads(out)
                times[mode].append(got["work_s"])
                checks[mode] = got["check"]
    assert checks["one_read"] == checks["two_reads"], "the two modes disagree"
    ratios = [b / a for a, b in zip(times["one_read"], times["two_reads"], strict=True)]
    print(f"{args.feeds} feed(s) x {args.rows:,} rows, {args.rounds} round(s); identical counts in both modes")
    for mode, ts in times.items():
        print(f"{mode:10s} min {min(ts):.2f} s  median {statistics.median(ts):.2f} s")
    print(f"two_reads / one_read (median of rounds): {statistics.median(ratios):.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
