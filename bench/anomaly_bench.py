"""Accuracy of the quality anomaly detector against a plain z-score, on seeded series.

    .venv/bin/python bench/anomaly_bench.py [--seed 7] [--keys 80] [--days 120]

For each partition key it generates 120 days of ``records_total`` and ``error_rate`` with a
weekly pattern (quiet weekends, busy Mondays), a linear trend, multiplicative noise, and
injected spikes and drops (error-rate spikes only, volume both ways, about 3 % of the
judged days). Every day that has 7 weeks of history before it is judged by both detectors
with the same rules (threshold 3, same minimum changes, same directions):

* ours: :func:`jobs_pipeline.warehouse.detector.judge` (same weekday, weekday median with capped growth,
  pooled week-over-week MAD; incidents are measured by bench/detector_bench.py);
* baseline: :func:`jobs_pipeline.warehouse.detector.judge_zscore` (mean/std of the last 28 days).

An alert is a true positive when that key, day and metric was injected. Prints one table
(markdown) with precision and recall of each; exit code 1 if ours misses the targets
(precision and recall >= 0.9 and better than the baseline on both).
"""

import argparse
import random
import sys
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from jobs_pipeline.warehouse.detector import DEFAULT_RULES, DetectorSettings, judge, judge_zscore  # noqa: E402

START = date(2026, 1, 5)  # a Monday


@dataclass
class Series:
    key: str
    values: dict[str, dict[date, float]]  # metric -> day -> value
    injected: set[tuple[date, str]]  # (day, metric)


def make_series(rng: random.Random, key: str, days: int, first_judged: int, rate: float) -> Series:
    volume0 = rng.uniform(800, 20_000)
    err0 = rng.uniform(0.01, 0.08)
    vol_week = [1.25, 1.1, 1.0, 1.0, 0.95, 0.55, 0.4]
    err_week = [1.35, 1.1, 1.0, 0.95, 1.0, 0.8, 0.85]
    jitter = [rng.uniform(0.9, 1.1) for _ in range(7)]
    vol_trend = rng.uniform(-0.003, 0.006)
    err_trend = rng.uniform(-0.002, 0.004)
    vol_noise, err_noise = rng.uniform(0.03, 0.07), rng.uniform(0.04, 0.09)
    vols: dict[date, float] = {}
    errs: dict[date, float] = {}
    injected: set[tuple[date, str]] = set()
    for i in range(days):
        d = START + timedelta(days=i)
        w = d.weekday()
        vol = volume0 * vol_week[w] * jitter[w] * (1 + vol_trend * i) * rng.lognormvariate(0, vol_noise)
        err = err0 * err_week[w] * (1 + err_trend * i) * rng.lognormvariate(0, err_noise)
        # Injections also land in the training period (before first_judged): the detector must
        # not let a past anomaly distort its baseline.
        if rng.random() < rate:
            kind = rng.choice(["vol_spike", "vol_drop", "err_spike"])
            if kind == "vol_spike":
                vol *= rng.uniform(1.5, 2.5)
            elif kind == "vol_drop":
                vol *= rng.uniform(0.2, 0.6)
            else:
                err = min(1.0, err * rng.uniform(1.8, 3.0) + 0.01)
            if i >= first_judged:
                injected.add((d, "records_total" if kind.startswith("vol") else "error_rate"))
        vols[d] = round(vol)
        errs[d] = min(1.0, err)
    return Series(key, {"records_total": vols, "error_rate": errs}, injected)


def score(series: list[Series], detector, first_judged: int, days: int,
          rules=DEFAULT_RULES) -> dict[str, float]:
    tp = fp = fn = 0
    settings = DetectorSettings()
    for s in series:
        for i in range(first_judged, days):
            d = START + timedelta(days=i)
            for rule in rules:
                hist = s.values[rule.metric]
                alert = detector(hist, d, hist[d], rule, settings).is_anomaly
                truth = (d, rule.metric) in s.injected
                tp += alert and truth
                fp += alert and not truth
                fn += truth and not alert
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return {"tp": tp, "fp": fp, "fn": fn, "precision": precision, "recall": recall}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--keys", type=int, default=80)
    ap.add_argument("--days", type=int, default=120)
    ap.add_argument("--rate", type=float, default=0.03, help="share of days with an injected anomaly")
    args = ap.parse_args(argv)
    rng = random.Random(args.seed)
    first_judged = 7 * DetectorSettings().min_training_points
    series = [make_series(rng, f"mkt{k % 8}:cat{k // 8}:R{k % 5}", args.days, first_judged, args.rate)
              for k in range(args.keys)]
    ours = score(series, judge, first_judged, args.days)
    base = score(series, judge_zscore, first_judged, args.days)
    # Transparency: the same detector with only the absolute floor (no relative minimum).
    no_rel = tuple(replace(r, min_rel_change=0.0) for r in DEFAULT_RULES)
    ours_no_rel = score(series, judge, first_judged, args.days, no_rel)
    base_no_rel = score(series, judge_zscore, first_judged, args.days, no_rel)
    judged = args.keys * (args.days - first_judged) * len(DEFAULT_RULES)
    injected = sum(len(s.injected) for s in series)
    print(f"seed {args.seed}: {args.keys} keys x {args.days} days, {judged} judgments "
          f"(days {first_judged}-{args.days - 1}), {injected} injected anomalies\n")
    print("| detector | precision | recall | TP | FP | FN |\n|---|---|---|---|---|---|")
    for name, r in (("seasonal robust (ours)", ours), ("plain z-score, 28 days", base),
                    ("ours, no relative minimum", ours_no_rel), ("z-score, no relative minimum", base_no_rel)):
        print(f"| {name} | {r['precision']:.3f} | {r['recall']:.3f} | {r['tp']} | {r['fp']} | {r['fn']} |")
    ok = (ours["precision"] >= 0.9 and ours["recall"] >= 0.9
          and ours["precision"] > base["precision"] and ours["recall"] > base["recall"])
    print("\ntargets (>= 0.9 both, better than baseline on both):", "met" if ok else "NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
