"""Seasonal, robust anomaly detection for daily quality metrics (pure Python, no I/O).

A day is judged against the same weekday of past weeks with a Theil–Sen baseline and a MAD
scale, and alerts only past a score threshold and a minimum change; :func:`judge` says why.
Method and accuracy: docs/dashboards.md ("Anomaly detection"), docs/benchmarks.md.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from statistics import median
from typing import Literal

Direction = Literal["spike", "drop", "both"]
Status = Literal["anomaly", "normal", "not_enough_history"]

MAD_TO_SIGMA = 1.4826


@dataclass(frozen=True)
class MetricRule:
    """Which way a metric may go wrong and how big a change must be to matter."""

    metric: str
    direction: Direction
    min_abs_change: float
    min_rel_change: float = 0.0


#: The rules the ``quality_anomalies`` mart applies per partition key and day.
DEFAULT_RULES: tuple[MetricRule, ...] = (
    MetricRule("error_rate", "spike", min_abs_change=0.01, min_rel_change=0.5),
    MetricRule("records_total", "both", min_abs_change=50, min_rel_change=0.35),
)


@dataclass(frozen=True)
class DetectorSettings:
    threshold: float = 3.0
    min_training_points: int = 7
    training_weeks: int = 10


@dataclass(frozen=True)
class Judgment:
    """The verdict on one value, with the baseline it was compared with."""

    status: Status
    metric: str
    value: float
    direction: str | None  # "spike" | "drop" | None
    baseline: float | None
    scale: float | None
    score: float | None
    training_points: int
    training_start: date | None
    training_end: date | None

    @property
    def is_anomaly(self) -> bool:
        return self.status == "anomaly"


def theil_sen(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """(slope, intercept) of the Theil–Sen line: medians, so robust to a few outliers."""
    slopes = [(ys[j] - ys[i]) / (xs[j] - xs[i])
              for i in range(len(xs)) for j in range(i + 1, len(xs)) if xs[j] != xs[i]]
    slope = median(slopes) if slopes else 0.0
    intercept = median(y - slope * x for x, y in zip(xs, ys))
    return slope, intercept


def pooled_relative_scale(history: Mapping[date, float], day: date, settings: DetectorSettings,
                          excluded: set[date]) -> float:
    """``1.4826 * MAD`` of relative residuals pooled over the seven weekdays of the window."""
    rel: list[float] = []
    for offset in range(1, 8):
        points = [(-float(k), float(history[d])) for k in range(settings.training_weeks)
                  if (d := day - timedelta(days=offset + 7 * k)) in history and d not in excluded
                  and history[d] is not None]
        if len(points) < 3:
            continue
        slope, intercept = theil_sen([x for x, _ in points], [y for _, y in points])
        for x, y in points:
            fit = intercept + slope * x
            if fit:
                rel.append((y - fit) / abs(fit))
    return MAD_TO_SIGMA * median(abs(r) for r in rel) if len(rel) >= 14 else 0.0


def _verdict(rule: MetricRule, settings: DetectorSettings, value: float, baseline: float,
             scale: float) -> tuple[Status, str, float]:
    delta = value - baseline
    # Scale floor: a perfectly flat history would give scale 0 and an infinite score.
    scale = max(scale, 1e-9, 1e-6 * abs(baseline))
    score = delta / scale
    direction = "spike" if delta > 0 else "drop"
    allowed = rule.direction == "both" or rule.direction == direction
    big_enough = abs(delta) >= rule.min_abs_change and (
        abs(delta) >= rule.min_rel_change * abs(baseline) if baseline else True)
    status: Status = "anomaly" if allowed and big_enough and abs(score) >= settings.threshold else "normal"
    return status, direction, score


def judge(history: Mapping[date, float], day: date, value: float, rule: MetricRule,
          settings: DetectorSettings = DetectorSettings(), exclude: Iterable[date] = ()) -> Judgment:
    """Judge ``value`` observed on ``day`` against the same weekday in ``history``.

    Why this shape:

    * **Day-of-week seasonality.** Feeds have a weekly rhythm (little volume at weekends, a
      backlog on Mondays), so a Monday is compared only with past Mondays: the training set of
      day *D* is ``D-7, D-14, ... D-7*training_weeks``.
    * **The judged days never train themselves.** Training days are strictly before *D* and any
      day in ``exclude`` (the other days judged in the same run) is dropped, the Elementary
      false-negative trap (``exclude_detection_period_from_training=false``) avoided.
    * **At least ``min_training_points`` (7) points**, else the verdict is
      ``not_enough_history`` and never an alert (Elementary dropped its minimum in 2023).
    * **Robust baseline and scale.** A Theil–Sen line through the same-weekday points (median
      of pairwise slopes, so a slow trend does not look like a spike and one past outlier does
      not move the line) predicts *D*; the scale is ``1.4826 * MAD`` of the residuals, i.e. a
      standard deviation under normal noise that past anomalies cannot inflate.
      ``score = (value - baseline) / scale``.
    * **Sensitivity** ``threshold`` (default 3) on the score, in the metric's direction
      (error-rate spikes only; volume both ways), **and** a minimum change: the absolute
      ``|value - baseline|`` must reach ``min_abs_change`` and the relative change
      ``min_rel_change`` (Elementary's ``ignore_small_changes``), so tiny rates never alert.
    """
    excluded = set(exclude) | {day}
    training = [(k, history[d]) for k in range(1, settings.training_weeks + 1)
                if (d := day - timedelta(days=7 * k)) in history and d not in excluded
                and history[d] is not None]
    n = len(training)
    if n < settings.min_training_points:
        return Judgment("not_enough_history", rule.metric, value, None, None, None, None, n,
                        None if not training else day - timedelta(days=7 * training[-1][0]),
                        None if not training else day - timedelta(days=7 * training[0][0]))
    xs = [-float(k) for k, _ in training]
    ys = [float(v) for _, v in training]
    slope, intercept = theil_sen(xs, ys)
    residuals = [y - (intercept + slope * x) for x, y in zip(xs, ys)]
    scale = MAD_TO_SIGMA * median(abs(r) for r in residuals)
    # A MAD of 7-10 points is often far too small by chance; the relative spread of all
    # weekdays in the same window (each against its own weekday line) is a steadier floor.
    scale = max(scale, pooled_relative_scale(history, day, settings, excluded) * abs(intercept))
    # Predicting one step beyond the fitted points is less certain than fitting them
    # (regression prediction interval: sqrt(1 + 1/n + mean(x)^2 / Sxx)).
    mean_x = sum(xs) / n
    sxx = sum((x - mean_x) ** 2 for x in xs) or 1.0
    scale *= (1 + 1 / n + mean_x ** 2 / sxx) ** 0.5
    status, direction, score = _verdict(rule, settings, value, intercept, scale)
    return Judgment(status, rule.metric, value, direction, intercept, scale, score, n,
                    day - timedelta(days=7 * training[-1][0]), day - timedelta(days=7 * training[0][0]))


def judge_zscore(history: Mapping[date, float], day: date, value: float, rule: MetricRule,
                 settings: DetectorSettings = DetectorSettings(), window_days: int = 28,
                 exclude: Iterable[date] = ()) -> Judgment:
    """The plain baseline (benchmark only): mean/std of the previous ``window_days`` days,
    no seasonality, no trend; same threshold, direction and minimum change."""
    excluded = set(exclude) | {day}
    days = [d for i in range(1, window_days + 1)
            if (d := day - timedelta(days=i)) in history and d not in excluded]
    ys = [float(history[d]) for d in days]
    if len(ys) < settings.min_training_points:
        return Judgment("not_enough_history", rule.metric, value, None, None, None, None, len(ys), None, None)
    mean = sum(ys) / len(ys)
    std = (sum((y - mean) ** 2 for y in ys) / (len(ys) - 1)) ** 0.5
    status, direction, score = _verdict(rule, settings, value, mean, std)
    return Judgment(status, rule.metric, value, direction, mean, std, score, len(ys), min(days), max(days))
