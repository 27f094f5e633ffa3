"""Anomalies are found where injected and nowhere else; the detector's rules hold."""

import random
from datetime import date, timedelta
from pathlib import Path

from jobs_pipeline.warehouse.detector import DEFAULT_RULES, DetectorSettings, MetricRule, judge
from jobs_pipeline.warehouse import anomalies
from jobs_pipeline.warehouse.connection import connect, scalar
from jobs_pipeline_tests.warehouse.conftest import FIRST_JUDGED
from jobs_pipeline_tests.warehouse.history import History

ERROR_RATE, VOLUME = DEFAULT_RULES
MONDAY = date(2026, 6, 1)


def test_anomalies_found_where_injected_and_nowhere_else(seeded_db: Path, history: History) -> None:
    with connect(seeded_db, read_only=True) as con:
        found = set(con.execute("SELECT day, partition_key, metric, direction FROM quality_anomalies").fetchall())
        judged = scalar(con, "SELECT count(*) FROM quality_anomaly_scores WHERE status = 'normal'")
    assert found == history.injected
    assert judged > 12 * 2 * 10  # most verdicts are "normal": the rest of the keys and days were judged


def test_anomaly_rows_explain_themselves(seeded_db: Path) -> None:
    with connect(seeded_db, read_only=True) as con:
        rows = con.execute("SELECT metric, direction, value, baseline, score, threshold, training_points, "
                           "training_start, training_end, day FROM quality_anomalies").fetchall()
    for metric, direction, value, baseline, score, threshold, n, start, end, day in rows:
        assert abs(score) >= threshold == 3.0
        assert (value > baseline) == (direction == "spike")
        assert n >= 7 and end == day - timedelta(days=7) and start.weekday() == day.weekday()


def test_not_enough_history_never_alerts(db_copy: Path, history: History) -> None:
    early = history.days[FIRST_JUDGED - 14]  # only 5 past same weekdays
    with connect(db_copy) as con:
        assert anomalies.refresh_day(con, early) == 0
        statuses = {r[0] for r in con.execute(
            "SELECT DISTINCT status FROM quality_anomaly_scores WHERE day = $d", {"d": early}).fetchall()}
    assert statuses == {"not_enough_history"}


def test_recomputing_a_day_keeps_ids_and_touches_only_that_day(db_copy: Path, history: History) -> None:
    day = history.days[-3]
    with connect(db_copy) as con:
        before = con.execute("SELECT anomaly_id, detected_at FROM quality_anomaly_scores ORDER BY 1").fetchall()
        anomalies.refresh_day(con, day)
        after = con.execute("SELECT anomaly_id, detected_at FROM quality_anomaly_scores ORDER BY 1").fetchall()
        changed_days = {r[0] for r in con.execute(
            "SELECT DISTINCT s.day FROM quality_anomaly_scores s WHERE detected_at > $t",
            {"t": max(t for _, t in before)}).fetchall()}
    assert [i for i, _ in before] == [i for i, _ in after]
    assert changed_days == {day}


def _weekly(n_weeks: int, value_of) -> dict[date, float]:
    return {MONDAY - timedelta(days=d): value_of(MONDAY - timedelta(days=d)) for d in range(1, 7 * n_weeks + 1)}


def test_monday_peak_is_seasonal_not_an_anomaly() -> None:
    # Mondays are always twice as busy: a busy Monday is normal, the same volume on a Wednesday is not.
    rng = random.Random(1)
    hist = _weekly(10, lambda d: (2000 if d.weekday() == 0 else 1000) * rng.uniform(0.97, 1.03))
    assert judge(hist, MONDAY, 2050, VOLUME).status == "normal"
    wednesday = MONDAY + timedelta(days=2)
    hist.update({MONDAY: 2000, MONDAY + timedelta(days=1): 1000})
    assert judge(hist, wednesday, 2050, VOLUME).is_anomaly


def test_both_directions_for_volume_spikes_only_for_error_rate() -> None:
    rng = random.Random(2)
    vol = _weekly(8, lambda d: 1000 * rng.uniform(0.98, 1.02))
    assert judge(vol, MONDAY, 300, VOLUME).direction == "drop"
    assert judge(vol, MONDAY, 300, VOLUME).is_anomaly
    assert judge(vol, MONDAY, 3000, VOLUME).is_anomaly
    err = _weekly(8, lambda d: 0.05 * rng.uniform(0.98, 1.02))
    assert judge(err, MONDAY, 0.20, ERROR_RATE).is_anomaly
    drop = judge(err, MONDAY, 0.001, ERROR_RATE)
    assert drop.direction == "drop" and not drop.is_anomaly


def test_min_change_threshold_and_training_points() -> None:
    tiny = _weekly(8, lambda d: 0.001)  # a flat, tiny error rate: +0.004 is a huge score but tiny change
    j = judge(tiny, MONDAY, 0.005, ERROR_RATE)
    assert j.score > 100 and not j.is_anomaly
    assert judge(tiny, MONDAY, 0.05, ERROR_RATE).is_anomaly
    rng = random.Random(3)
    noisy = _weekly(8, lambda d: 1000 * rng.uniform(0.8, 1.2))
    lenient = MetricRule("records_total", "both", min_abs_change=0)
    strict, loose = DetectorSettings(threshold=50), DetectorSettings(threshold=1)
    assert not judge(noisy, MONDAY, 2500, lenient, strict).is_anomaly
    assert judge(noisy, MONDAY, 2500, lenient, loose).is_anomaly
    six_weeks = _weekly(6, lambda d: 1000)
    assert judge(six_weeks, MONDAY, 5000, VOLUME).status == "not_enough_history"


def test_judged_days_are_excluded_from_training() -> None:
    hist = _weekly(8, lambda d: 1000)
    hist[MONDAY - timedelta(days=7)] = 5000  # an incident last Monday, judged in the same run
    with_it = judge(hist, MONDAY, 1000, VOLUME)
    without = judge(hist, MONDAY, 1000, VOLUME, exclude=[MONDAY - timedelta(days=7)])
    assert with_it.training_points == 8 and without.training_points == 7
    assert without.baseline == 1000
