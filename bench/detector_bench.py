"""Incident detection on labelled series (spikes, level shifts, drifts, region-wide drops) and
the speed of one ``quality_anomalies`` day.

    .venv/bin/python bench/detector_bench.py [--seeds 1 2 3 4 5] [--keys 120] [--days 160]
    .venv/bin/python bench/detector_bench.py --speed-only

Accuracy. For each seed and scenario it generates ``keys`` partition keys (4 marketplaces x
5 categories x 6 regions) x ``days`` days of ``records_total`` and ``error_rate`` with a weekly
pattern, a per-key trend (volume -0.3..+0.6 %/day, error rate -0.2..+0.4 %/day) and log-normal
noise, then injects one kind of event on 40 % of the keys (one metric each, days 84-130):

* ``spike``: one day, volume x1.5-2.5 or x0.2-0.6, error rate x1.8-3 + 0.01;
* ``level_shift``: from that day on for good, volume x1.6-2.5 or x0.3-0.55, error rate x1.8-3;
* ``drift``: a linear ramp over 7-21 days to volume x1.8-2.5 or x0.3-0.5, error rate x2-3.5,
  then held;
* ``drift_subtle`` (shown, no target): a slower ramp (14-35 days) to just past the minimum
  changes: volume x1.5-1.8 or x0.5-0.6, error rate x1.6-2.2;
* ``region``: a regional holiday: every key of 2 regions at x0.2-0.45 volume on one day (the
  label is the region, not its keys).

The detector is the mart's (:func:`judge_window` then :func:`track_incidents`, the same
settings), run over every day from 70 on. An **alert** is an incident opening (a region incident
is one alert). A labelled event is found when an alert on its key (or region) and metric opens
in its window: the day itself (spike, region), day..day+2 (level shift), ramp start..ramp end+7
(drift). Every other alert is a false positive, including a second alert for the same shift.
Precision = found / alerts, recall = found events / events, per scenario, over all seeds.

Speed. A DuckDB file with ``job_runs`` (5,000 jobs a day, ~20,000 events, 120 keys, 120
days) and ``marketplace_quality_daily`` aggregated from it; ``anomalies.refresh_day`` is timed
on the last 20 days (median, best). Exit code 1 if a target is missed (drift precision and
recall >= 0.9, spike and level shift >= 0.95, every region-wide drop one region alert and none
split into key alerts, a day's median <= 0.1 s).
"""

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from jobs_pipeline.warehouse import anomalies  # noqa: E402
from jobs_pipeline.warehouse.connection import connect  # noqa: E402
from jobs_pipeline.warehouse.detector import (  # noqa: E402
    DEFAULT_RULES, OPENED, DetectorSettings, judge_window, track_incidents,
)

START = date(2026, 1, 5)  # a Monday
FIRST_JUDGED = 70
VOL_WEEK = np.array([1.25, 1.1, 1.0, 1.0, 0.95, 0.55, 0.4])
ERR_WEEK = np.array([1.35, 1.1, 1.0, 0.95, 1.0, 0.8, 0.85])
SCENARIOS = ("spike", "level_shift", "drift", "region", "drift_subtle")
TARGETS = {"spike": 0.95, "level_shift": 0.95, "drift": 0.9}  # precision and recall


@dataclass(frozen=True)
class Event:
    scope: str  # a partition key, or "region:<R>"
    metric: str
    first: int  # window in which an alert finds it
    last: int


def make_keys(n: int) -> list[str]:
    keys = [f"mkt{m}:cat{c}:R{r}" for r in range(6) for m in range(4) for c in range(5)]
    return keys[:n]


def generate(rng: np.random.Generator, keys: list[str], days: int, scenario: str
             ) -> tuple[dict[str, np.ndarray], list[Event]]:
    n = len(keys)
    t = np.arange(days)
    weekday = (t + START.weekday()) % 7
    vol0 = rng.uniform(800, 20_000, n)[:, None]
    err0 = rng.uniform(0.01, 0.08, n)[:, None]
    jitter_v = rng.uniform(0.9, 1.1, (n, 7))
    jitter_e = rng.uniform(0.9, 1.1, (n, 7))
    rows = np.arange(n)[:, None]
    vol = (vol0 * VOL_WEEK[weekday] * jitter_v[rows, weekday] * (1 + rng.uniform(-0.003, 0.006, (n, 1)) * t)
           * rng.lognormal(0, rng.uniform(0.03, 0.07, (n, 1)), (n, days)))
    err = (err0 * ERR_WEEK[weekday] * jitter_e[rows, weekday] * (1 + rng.uniform(-0.002, 0.004, (n, 1)) * t)
           * rng.lognormal(0, rng.uniform(0.04, 0.09, (n, 1)), (n, days)))
    events: list[Event] = []
    if scenario == "region":
        regions = sorted({k.split(":")[2] for k in keys})
        for region in rng.choice(regions, size=2, replace=False):
            day = int(rng.integers(84, 131))
            members = [i for i, k in enumerate(keys) if k.endswith(f":{region}")]
            vol[members, day] *= rng.uniform(0.2, 0.45, len(members))
            events.append(Event(f"region:{region}", "records_total", day, day))
    else:
        for i in rng.choice(n, size=int(0.4 * n), replace=False):
            metric = "records_total" if rng.random() < 0.6 else "error_rate"
            day = int(rng.integers(84, 131))
            series = vol if metric == "records_total" else err
            up = metric == "error_rate" or rng.random() < 0.5
            if scenario == "spike":
                if metric == "error_rate":
                    series[i, day] = series[i, day] * rng.uniform(1.8, 3.0) + 0.01
                else:
                    series[i, day] *= rng.uniform(1.5, 2.5) if up else rng.uniform(0.2, 0.6)
                events.append(Event(keys[i], metric, day, day))
            elif scenario == "level_shift":
                factor = (rng.uniform(1.8, 3.0) if metric == "error_rate"
                          else rng.uniform(1.6, 2.5) if up else rng.uniform(0.3, 0.55))
                series[i, day:] *= factor
                events.append(Event(keys[i], metric, day, day + 2))
            else:  # drift
                if scenario == "drift":
                    length = int(rng.integers(7, 22))
                    factor = (rng.uniform(2.0, 3.5) if metric == "error_rate"
                              else rng.uniform(1.8, 2.5) if up else rng.uniform(0.3, 0.5))
                else:  # drift_subtle: slower, and ending just past the minimum changes
                    length = int(rng.integers(14, 36))
                    factor = (rng.uniform(1.6, 2.2) if metric == "error_rate"
                              else rng.uniform(1.5, 1.8) if up else rng.uniform(0.5, 0.6))
                ramp = np.minimum(np.arange(days - day) / length, 1.0)
                series[i, day:] *= 1 + (factor - 1) * ramp
                events.append(Event(keys[i], metric, day, day + length + 7))
    return {"records_total": np.round(vol), "error_rate": np.minimum(err, 1.0)}, events


def detect(data: dict[str, np.ndarray], keys: list[str], days: int, settings: DetectorSettings
           ) -> list[tuple[str, str, int]]:
    """(scope, metric, day) of every incident opening: the mart's code over all judged days."""
    regions = np.array([k.split(":")[2] for k in keys], dtype=object)
    judged = np.arange(FIRST_JUDGED, days)
    alerts = []
    for rule in DEFAULT_RULES:
        series = data[rule.metric]
        v = judge_window(series, judged, series[:, judged], rule, settings)
        inc = track_incidents(v, rule, regions, settings, judged)
        seen_regional: set[tuple[str, int]] = set()
        for k, j in zip(*np.nonzero(inc.state == OPENED)):
            day = int(judged[j])
            if inc.regional[k, j]:
                if (regions[k], day) not in seen_regional:
                    seen_regional.add((regions[k], day))
                    alerts.append((f"region:{regions[k]}", rule.metric, day))
            else:
                alerts.append((keys[k], rule.metric, day))
    return alerts


def score(alerts: list[tuple[str, str, int]], events: list[Event]) -> tuple[int, int, int]:
    """(events found, alerts, events)."""
    found = 0
    for e in events:
        if any(s == e.scope and m == e.metric and e.first <= d <= e.last for s, m, d in alerts):
            found += 1
    true_alerts = sum(1 for s, m, d in alerts
                      if any(s == e.scope and m == e.metric and e.first <= d <= e.last for e in events))
    # A second alert inside one event's window is still a repeat: count distinct events once.
    return found, len(alerts) - (true_alerts - found), len(events)


def split_region_alerts(alerts: list[tuple[str, str, int]], events: list[Event]) -> int:
    """Key alerts on a region event's day for a key of that region (the event split per key)."""
    return sum(1 for s, m, d in alerts for e in events
               if e.scope.startswith("region:") and not s.startswith("region:")
               and s.endswith(":" + e.scope.split(":")[1]) and m == e.metric and d == e.first)


def accuracy(seeds: list[int], n_keys: int, days: int
             ) -> tuple[dict[str, tuple[float, float, int, int, int]], int, bool]:
    keys = make_keys(n_keys)
    settings = DetectorSettings()
    totals = {s: [0, 0, 0] for s in SCENARIOS}
    split = 0
    for seed in seeds:
        for n, scenario in enumerate(SCENARIOS):
            rng = np.random.default_rng([seed, n])
            data, events = generate(rng, keys, days, scenario)
            alerts = detect(data, keys, days, settings)
            found, n_alerts, n_events = score(alerts, events)
            split += split_region_alerts(alerts, events)
            for i, x in enumerate((found, n_alerts, n_events)):
                totals[scenario][i] += x
    out, ok = {}, True
    for scenario, (found, n_alerts, n_events) in totals.items():
        precision = found / n_alerts if n_alerts else 0.0
        recall = found / n_events if n_events else 0.0
        out[scenario] = (precision, recall, found, n_alerts, n_events)
        if scenario in TARGETS:
            ok &= precision >= TARGETS[scenario] and recall >= TARGETS[scenario]
    # A region-wide drop must be one alert: every one found as a region alert, none split per key.
    ok &= out["region"][1] == 1.0 and split == 0
    return out, split, ok


def speed(days: int = 120, jobs_per_day: int = 5000, timed: int = 20) -> tuple[float, float]:
    keys = make_keys(120)
    with tempfile.TemporaryDirectory() as tmp, connect(Path(tmp) / "q.duckdb") as con:
        con.execute("CREATE TABLE keys AS SELECT unnest($k) AS partition_key, generate_subscripts($k, 1) AS k",
                    {"k": keys})
        con.execute(f"""
            CREATE TABLE job_runs AS
            SELECT 'job-' || d || '-' || j AS job_id, partition_key, DATE '{START}' + d::INTEGER AS day,
                   CASE WHEN hash(d, j) % 50 = 0 THEN 'failed' ELSE 'completed' END AS status,
                   (200 + hash(d, j, 1) % 600)::BIGINT AS records_total,
                   (hash(d, j, 2) % 40)::BIGINT AS records_error
            FROM range({days}) r(d), range({jobs_per_day}) s(j)
            JOIN keys ON keys.k = 1 + j % 120""")
        con.execute("""
            CREATE TABLE marketplace_quality_daily AS
            SELECT day, partition_key, count(*) AS jobs, sum(records_total) AS records_total,
                   sum(records_error) / sum(records_total) AS error_rate
            FROM job_runs GROUP BY ALL""")
        anomalies.refresh_day(con, START + timedelta(days=days - timed - 1))  # schema, warm caches
        times = []
        now = datetime(2030, 1, 1, tzinfo=UTC)
        for i in range(days - timed, days):
            t0 = time.perf_counter()
            anomalies.refresh_day(con, START + timedelta(days=i), now=now)
            times.append(time.perf_counter() - t0)
    return statistics.median(times), min(times)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    ap.add_argument("--keys", type=int, default=120)
    ap.add_argument("--days", type=int, default=160)
    ap.add_argument("--speed-only", action="store_true")
    args = ap.parse_args(argv)
    ok = True
    if not args.speed_only:
        t0 = time.perf_counter()
        results, split, ok = accuracy(args.seeds, args.keys, args.days)
        print(f"seeds {args.seeds}: {args.keys} keys x {args.days} days, judged from day {FIRST_JUDGED} "
              f"({time.perf_counter() - t0:.1f} s)\n")
        print("| scenario | precision | recall | events found | alerts | events | target |\n|---|---|---|---|---|---|---|")
        for scenario, (p, r, found, alerts, n) in results.items():
            target = (f">= {TARGETS[scenario]}" if scenario in TARGETS else "every event one region alert"
                      if scenario == "region" else "(shown, no target)")
            print(f"| {scenario} | {p:.3f} | {r:.3f} | {found} | {alerts} | {n} | {target} |")
        print(f"\nregion events split into key alerts: {split} (target 0); the region scenario's other "
              f"alerts are false alarms on its clean keys")
    median, best = speed()
    print(f"\nquality_anomalies, one day at 5,000 jobs (~20k events), 120 keys: median {median * 1000:.1f} ms, "
          f"best {best * 1000:.1f} ms (target <= 100 ms)")
    ok &= median <= 0.1
    print("targets:", "met" if ok else "NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
