"""Seasonal, robust anomaly detection for daily quality metrics, and incidents (numpy, no I/O).

A day is judged against the same weekday of past weeks (a weekday median, corrected by the
key's typical weekly growth, with a pooled week-over-week noise scale); consecutive anomalous
days of one key and metric form one **incident** (opened, ongoing, then recovered or adapted),
and keys of one region that open the same incident on the same day form one region incident.
Everything is computed on arrays (keys x days) so a whole window is judged at once.
Method and accuracy: docs/dashboards.md ("Anomaly detection"), docs/benchmarks.md.
"""

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

import numpy as np

Direction = Literal["spike", "drop", "both"]
Status = Literal["anomaly", "normal", "not_enough_history", "partial_day"]

MAD_TO_SIGMA = 1.4826

# Verdict codes of :func:`judge_window` (per key and judged day).
SKIP, THIN, NORMAL, ANOMALY = -1, 0, 1, 2  # no value / not_enough_history / normal / anomaly
STATUS_NAMES = {THIN: "not_enough_history", NORMAL: "normal", ANOMALY: "anomaly"}
# Incident states of :func:`track_incidents`.
NONE, OPENED, ONGOING, RECOVERED, ADAPTED = 0, 1, 2, 3, 4
STATE_NAMES = {OPENED: "opened", ONGOING: "ongoing", RECOVERED: "recovered", ADAPTED: "adapted"}


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
    #: The baseline is the median of the most recent ``baseline_weeks`` same weekdays.
    baseline_weeks: int = 5
    #: Largest weekly growth (either way) the baseline follows: a faster change is not a trend.
    max_weekly_growth: float = 0.05
    #: An open incident continues while the day still passes ``continue_factor`` x the
    #: threshold and minimum changes in the same direction (hysteresis).
    continue_factor: float = 0.5
    #: How many past days are re-judged to find whether the judged day continues an incident.
    incident_lookback_days: int = 35
    #: Keys of one region opening the same incident the same day become one region incident
    #: when they are at least this many and this share of the region's judged keys.
    region_min_keys: int = 3
    region_min_share: float = 0.5


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


@dataclass
class Verdicts:
    """Arrays of shape (keys, judged days): one verdict per key and day."""

    code: np.ndarray  # SKIP / THIN / NORMAL / ANOMALY
    value: np.ndarray
    baseline: np.ndarray
    scale: np.ndarray
    score: np.ndarray
    sign: np.ndarray  # +1 spike, -1 drop
    training_points: np.ndarray
    training_first: np.ndarray  # day index of the oldest training point (-1: none)
    training_last: np.ndarray  # day index of the newest training point (-1: none)


def _nanmedian(a: np.ndarray) -> np.ndarray:
    """Median over the last axis ignoring NaN (NaN where all are NaN). ``np.nanmedian`` goes
    through masked arrays on small slices, several times slower than one sort."""
    s = np.sort(a, axis=-1)  # NaN sorts last
    n = (~np.isnan(a)).sum(axis=-1)
    lo = np.take_along_axis(s, np.clip((n - 1) // 2, 0, None)[..., None], axis=-1)[..., 0]
    hi = np.take_along_axis(s, np.clip(n // 2, 0, None)[..., None], axis=-1)[..., 0]
    return np.where(n > 0, (lo + hi) / 2, np.nan)


def _take(series: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``series[:, idx]`` with NaN where an index is negative (before the window)."""
    out = series[:, np.clip(idx, 0, None)]
    out[:, idx < 0] = np.nan
    return out


def judge_window(series: np.ndarray, days: np.ndarray, values: np.ndarray, rule: MetricRule,
                 settings: DetectorSettings = DetectorSettings()) -> Verdicts:
    """Judge ``values[:, i]`` (keys x judged days) on the day indices ``days`` of ``series``.

    ``series`` (keys x window days) holds the history, NaN where a key has no usable value
    (no data, a partial day, a day excluded from training). Why this shape:

    * **Day-of-week seasonality.** A Monday is compared only with past Mondays: the training
      set of day *D* is ``D-7, D-14, ... D-7*training_weeks``, strictly before *D*.
    * **At least ``min_training_points`` (7) points**, else ``not_enough_history`` (never an alert).
    * **Baseline: median of the last ``baseline_weeks`` (5) same weekdays**, times the key's
      typical weekly growth over the lag of that median (the median of all week-over-week
      changes in the window, capped at ``max_weekly_growth``). A median never leaves the range
      of the data (never below zero), ignores a past spike, does not overshoot after a level
      shift (a line fit through a step does), and lags a fast drift instead of following it,
      so a drift is seen; a slow trend is followed through the growth factor.
    * **Scale: pooled week-over-week noise.** ``1.4826 * MAD`` of the relative week-over-week
      changes of all seven weekdays in the window (about 63 of them, so steadier than a MAD of
      5-10 points; centring on their median removes the trend), divided by ``sqrt(2)`` (a
      difference of two noisy days), times ``|baseline|`` and the median's own uncertainty
      ``sqrt(1 + pi / (2 n))``. ``score = (value - baseline) / scale``.
    * **Sensitivity** ``threshold`` (default 3) on the score, in the metric's direction, **and**
      a minimum absolute and relative change (Elementary's ``ignore_small_changes``).
    """
    weeks, recent_n = settings.training_weeks, settings.baseline_weeks
    n_keys, n_days = series.shape[0], len(days)
    lags = 7 * np.arange(1, weeks + 1)
    train = _take(series, (days[:, None] - lags[None, :]).ravel()).reshape(n_keys, n_days, weeks)
    present = ~np.isnan(train)
    n_train = present.sum(axis=2)
    recent = train[:, :, :recent_n]
    n_recent = (~np.isnan(recent)).sum(axis=2)
    use_recent = n_recent >= 3
    level = np.where(use_recent, _nanmedian(recent), _nanmedian(train))
    n_used = np.where(use_recent, n_recent, n_train)
    # Position (in weeks back) of the median of the points used: the lag the growth makes up.
    lag_weeks = np.where(use_recent, (recent_n + 1) / 2, (weeks + 1) / 2)

    # Week-over-week relative changes, all weekdays of the window before each judged day.
    prev = np.full_like(series, np.nan)
    prev[:, 7:] = series[:, :-7]
    with np.errstate(divide="ignore", invalid="ignore"):
        # float32: these ~63 changes per key and day are only sorted for two medians
        change = np.where(prev > 0, (series - prev) / prev, np.nan).astype(np.float32)
    back = np.arange(1, 7 * weeks - 6)  # 63 changes for 10 weeks
    widx = days[:, None] - back[None, :]
    changes = _take(change, widx.ravel()).reshape(n_keys, n_days, len(back))
    changes[:, (widx - 7 < 0)] = np.nan  # a change needs both of its days inside the window
    n_changes = (~np.isnan(changes)).sum(axis=2)
    growth = _nanmedian(changes)
    spread = _nanmedian(np.abs(changes - growth[:, :, None]))
    growth, spread = growth.astype(float), spread.astype(float)
    rel_sigma = MAD_TO_SIGMA * spread / math.sqrt(2)
    # Too few changes (gaps): fall back on the spread of the same-weekday points themselves.
    own = MAD_TO_SIGMA * _nanmedian(np.abs(train - level[:, :, None]))
    with np.errstate(divide="ignore", invalid="ignore"):
        own_rel = np.where(level > 0, own / level, 0.0)
    pooled_ok = n_changes >= 14
    rel_sigma = np.where(pooled_ok, rel_sigma, own_rel)
    growth = np.where(pooled_ok, np.clip(growth, -settings.max_weekly_growth, settings.max_weekly_growth), 0.0)

    baseline = np.maximum(level * (1 + growth) ** lag_weeks, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = rel_sigma * np.abs(baseline) * np.sqrt(1 + math.pi / (2 * np.maximum(n_used, 1)))
    # Scale floor: a perfectly flat history would give scale 0 and an infinite score.
    scale = np.maximum(np.nan_to_num(scale, nan=0.0), np.maximum(1e-9, 1e-6 * np.abs(baseline)))
    delta = values - baseline
    score = delta / scale
    sign = np.where(delta > 0, 1, -1)
    allowed = (rule.direction == "both") | ((sign > 0) == (rule.direction == "spike"))
    with np.errstate(invalid="ignore"):
        big = (np.abs(delta) >= rule.min_abs_change) & (
            (baseline == 0) | (np.abs(delta) >= rule.min_rel_change * np.abs(baseline)))
        flagged = allowed & big & (np.abs(score) >= settings.threshold)
    enough = n_train >= settings.min_training_points
    code = np.where(np.isnan(values), SKIP, np.where(~enough, THIN, np.where(flagged, ANOMALY, NORMAL)))
    first = np.where(present, np.arange(weeks)[None, None, :], -1).max(axis=2)  # oldest lag index
    last = np.where(present, np.arange(weeks)[None, None, :], weeks).min(axis=2)  # newest lag index
    training_first = np.where(n_train > 0, days[None, :] - 7 * (first + 1), -1)
    training_last = np.where(n_train > 0, days[None, :] - 7 * (last + 1), -1)
    return Verdicts(code, values, baseline, scale, score, sign, n_train, training_first, training_last)


@dataclass
class Incidents:
    """Arrays of shape (keys, judged days): the incident each verdict belongs to."""

    state: np.ndarray  # NONE / OPENED / ONGOING / RECOVERED / ADAPTED
    start: np.ndarray  # column (judged-day position) where the incident opened, -1 if none
    sign: np.ndarray  # +1 spike, -1 drop, 0 none
    regional: np.ndarray  # bool: opened together with its region's keys (one region incident)


def track_incidents(v: Verdicts, rule: MetricRule, regions: np.ndarray,
                    settings: DetectorSettings = DetectorSettings(), days: np.ndarray | None = None) -> Incidents:
    """Walk the judged days in order and group consecutive anomalous days into incidents.

    * An anomaly on a key with no open incident **opens** one.
    * The next days **continue** it while they deviate the same way and still pass
      ``continue_factor`` x the threshold and minimum changes: a level shift stays one incident
      (one alert) rather than a new alert each day the baseline has not caught up.
    * The first day that does not closes it: **adapted** when the baseline itself moved (since
      the same weekday a week before) by more than half the opening relative deviation, the
      way of the incident (it caught up with a lasting new level), else **recovered** (the
      value came back). Days without a value or verdict leave an incident as it is.
      ``days`` (day index of each column; default consecutive) finds the week-before column.
    * A region incident: when at least ``region_min_keys`` keys of one region, and
      ``region_min_share`` of its keys judged that day, open an incident in the same direction
      on the same day (a regional holiday, a regional outage), they are one incident.
    """
    n_keys, n_days = v.code.shape
    days = np.arange(n_days) if days is None else np.asarray(days)
    region_ids, region_of = np.unique(regions, return_inverse=True)
    judged_counts = np.zeros((len(region_ids), n_days))
    np.add.at(judged_counts, region_of, (v.code >= NORMAL).astype(float))
    out = Incidents(np.zeros((n_keys, n_days), dtype=np.int8), np.full((n_keys, n_days), -1, dtype=np.int32),
                    np.zeros((n_keys, n_days), dtype=np.int8), np.zeros((n_keys, n_days), dtype=bool))
    # Only keys with an anomaly in the window can be in an incident: walk those alone.
    rows = np.nonzero((v.code == ANOMALY).any(axis=1))[0]
    if len(rows):
        sub = _walk(Verdicts(*(getattr(v, f)[rows] for f in v.__dataclass_fields__)), rule, region_of[rows],
                    judged_counts, settings, days)
        for f in out.__dataclass_fields__:
            getattr(out, f)[rows] = getattr(sub, f)
    return out


def _walk(v: Verdicts, rule: MetricRule, region_of: np.ndarray, judged_counts: np.ndarray,
          settings: DetectorSettings, days: np.ndarray) -> Incidents:
    """:func:`track_incidents` over some keys; ``judged_counts`` (regions x days) counts every key."""
    n_keys, n_days = v.code.shape
    c = settings.continue_factor
    state = np.zeros((n_keys, n_days), dtype=np.int8)
    start = np.full((n_keys, n_days), -1, dtype=np.int32)
    sign = np.zeros((n_keys, n_days), dtype=np.int8)
    regional = np.zeros((n_keys, n_days), dtype=bool)
    open_sign = np.zeros(n_keys, dtype=np.int8)
    open_start = np.full(n_keys, -1, dtype=np.int32)
    open_regional = np.zeros(n_keys, dtype=bool)
    open_base = np.zeros(n_keys)
    open_delta = np.zeros(n_keys)
    for j in range(n_days):
        code, sgn = v.code[:, j], v.sign[:, j]
        delta = v.value[:, j] - v.baseline[:, j]
        judged = code >= NORMAL
        with np.errstate(invalid="ignore"):
            keeps = (judged & (open_sign != 0) & (sgn == open_sign)
                     & (np.abs(v.score[:, j]) >= c * settings.threshold)
                     & (np.abs(delta) >= c * rule.min_abs_change)
                     & ((v.baseline[:, j] == 0) | (np.abs(delta) >= c * rule.min_rel_change * np.abs(v.baseline[:, j]))))
        keeps |= judged & (open_sign != 0) & (code == ANOMALY) & (sgn == open_sign)
        closes = judged & (open_sign != 0) & ~keeps
        opens = (code == ANOMALY) & ((open_sign == 0) | closes)
        # Region incidents: many keys of one region opening the same way on the same day.
        grouped = np.zeros(n_keys, dtype=bool)
        for s in (1, -1):
            mask = opens & (sgn == s)
            if mask.sum() < settings.region_min_keys:
                continue
            opened_in = np.bincount(region_of[mask], minlength=judged_counts.shape[0])
            judged_in = judged_counts[:, j]
            wide = (opened_in >= settings.region_min_keys) & (opened_in >= settings.region_min_share * judged_in)
            grouped |= mask & wide[region_of]
        week_before = int(np.searchsorted(days, days[j] - 7))
        if week_before < j and days[week_before] == days[j] - 7:
            with np.errstate(divide="ignore", invalid="ignore"):
                moved = (v.baseline[:, j] - v.baseline[:, week_before]) / np.abs(v.baseline[:, week_before])
                opening = open_delta / np.abs(open_base)
                back = ~(moved * np.sign(opening) > 0.5 * np.abs(opening))
        else:
            back = np.ones(n_keys, dtype=bool)
        state[:, j] = np.where(opens, OPENED, np.where(keeps, ONGOING,
                               np.where(closes, np.where(back, RECOVERED, ADAPTED), NONE)))
        open_sign = np.where(opens, sgn, np.where(closes, 0, open_sign)).astype(np.int8)
        open_start = np.where(opens, j, np.where(closes, -1, open_start)).astype(np.int32)
        open_regional = np.where(opens, grouped, open_regional & ~closes)
        open_base = np.where(opens, v.baseline[:, j], open_base)
        open_delta = np.where(opens, delta, open_delta)
        in_incident = (state[:, j] == OPENED) | (state[:, j] == ONGOING)
        closed_now = (state[:, j] == RECOVERED) | (state[:, j] == ADAPTED)
        start[:, j] = np.where(in_incident, open_start, np.where(closed_now, start[:, j - 1] if j else -1, -1))
        sign[:, j] = np.where(in_incident, open_sign, np.where(closed_now, sign[:, j - 1] if j else 0, 0))
        regional[:, j] = np.where(in_incident, open_regional, closed_now & (regional[:, j - 1] if j else False))
    return Incidents(state, start, sign, regional)


def judge(history: Mapping[date, float], day: date, value: float, rule: MetricRule,
          settings: DetectorSettings = DetectorSettings(), exclude: Iterable[date] = ()) -> Judgment:
    """Judge one ``value`` observed on ``day`` against ``history`` (one key): :func:`judge_window`
    on a one-row window. Days in ``exclude`` (and ``day`` itself) never train."""
    excluded = set(exclude) | {day}
    span = 7 * settings.training_weeks
    start = day - timedelta(days=span)
    series = np.full((1, span + 1), np.nan)
    for i in range(span):
        d = start + timedelta(days=i)
        if d in history and d not in excluded and history[d] is not None:
            series[0, i] = float(history[d])
    v = judge_window(series, np.array([span]), np.array([[float(value)]]), rule, settings)
    code = int(v.code[0, 0])
    n = int(v.training_points[0, 0])
    first, last = int(v.training_first[0, 0]), int(v.training_last[0, 0])
    window = (start + timedelta(days=first) if first >= 0 else None, start + timedelta(days=last) if last >= 0 else None)
    if code == THIN:
        return Judgment("not_enough_history", rule.metric, value, None, None, None, None, n, *window)
    return Judgment(STATUS_NAMES[code], rule.metric, value, "spike" if v.sign[0, 0] > 0 else "drop",
                    float(v.baseline[0, 0]), float(v.scale[0, 0]), float(v.score[0, 0]), n, *window)


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
    delta = value - mean
    scale = max(std, 1e-9, 1e-6 * abs(mean))
    score = delta / scale
    direction = "spike" if delta > 0 else "drop"
    allowed = rule.direction == "both" or rule.direction == direction
    big_enough = abs(delta) >= rule.min_abs_change and (
        abs(delta) >= rule.min_rel_change * abs(mean) if mean else True)
    status: Status = "anomaly" if allowed and big_enough and abs(score) >= settings.threshold else "normal"
    return Judgment(status, rule.metric, value, direction, mean, std, score, len(ys), min(days), max(days))
