"""What counting ``sole_errors_by_rule`` adds to a validation: the one aggregation over the
failing rows (``_Pass.finish``), with and without the sole-error sums, isolated from the read.

    .venv/bin/python bench/sole_errors_bench.py --failing 675000 --repeat 7

The failing rows are what the engine keeps after the pass (one boolean flag per rule, in record
order): here ``--failing`` rows for the effective ``google_merchant`` ruleset (apparel, BR), each
failing 1-3 random rules (the 1M-row feed of ``validate_bench.py`` keeps ~67,500 failing rows: 10M
rows, ~675,000). The end-to-end cost is in ``validate_bench.py`` (docs/benchmarks.md#validation);
on a loaded machine its noise is larger than this step, hence this measurement.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from jobs_pipeline.validation.engine import SOLE, _flag, _Pass  # noqa: E402
from jobs_pipeline.validation.ruleset import ruleset_for  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--failing", type=int, default=675_000)
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    rules = ruleset_for("google_merchant", category="apparel", region="BR").rules
    state = _Pass(rules, {r.field for r in rules}, None, 0, None, Path("."))
    rng = np.random.default_rng(0)
    flags = np.zeros((args.failing, len(rules)), dtype=bool)
    for row, k in enumerate(rng.integers(1, 4, args.failing)):
        flags[row, rng.choice(len(rules), size=k, replace=False)] = True
    failing = pl.DataFrame({_flag(i): flags[:, i] for i in range(len(rules))})
    without = [a for a in state.aggregates if not a.meta.output_name().startswith("sole:")]

    def before() -> None:
        failing.select(without).row(0)

    def after() -> None:
        failing.with_columns(state.sole.alias(SOLE)).select(state.aggregates).row(0)

    times: dict[str, list[float]] = {"before": [], "after": []}
    for _ in range(args.repeat):  # interleaved, so load changes hit both alike
        for name, fn in (("before", before), ("after", after)):
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    print(f"# {args.failing:,} failing rows, {len(rules)} rules "
          f"({sum(r.severity == 'error' for r in rules)} error), {args.repeat} runs each")
    for label, pick in (("median", statistics.median), ("min", min)):
        b, a = pick(times["before"]), pick(times["after"])
        print(f"{label}: aggregation without sole counts {b * 1000:.1f} ms, with {a * 1000:.1f} ms: "
              f"added {max(a - b, 0) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
