"""``quality_anomaly_scores`` and the ``quality_anomalies`` view: the detector applied to
``marketplace_quality_daily``, one UTC day at a time.

Every verdict (``anomaly``, ``normal``, ``not_enough_history``) is kept with its baseline,
scale, score and training window; ``anomaly_id`` (UUIDv5 of ``day|partition_key|metric``) is
stable across recomputations, so the alert sensor sends each anomaly once (docs/dashboards.md).
"""

import uuid
from collections import defaultdict
from datetime import date, timedelta

import duckdb

from jobs_pipeline.warehouse.detector import DEFAULT_RULES, DetectorSettings, MetricRule, judge
from jobs_pipeline.warehouse.connection import scalar, transaction

ANOMALY_NAMESPACE = uuid.UUID("6b1f3c1e-2a47-4d8e-9d0c-2f4f7a1c9e55")

SCORES_DDL = """
CREATE TABLE IF NOT EXISTS quality_anomaly_scores (
    anomaly_id VARCHAR NOT NULL, day DATE NOT NULL, partition_key VARCHAR NOT NULL,
    marketplace VARCHAR NOT NULL, category VARCHAR NOT NULL, region VARCHAR NOT NULL,
    metric VARCHAR NOT NULL, status VARCHAR NOT NULL, direction VARCHAR,
    value DOUBLE NOT NULL, baseline DOUBLE, scale DOUBLE, score DOUBLE,
    deviation DOUBLE, relative_change DOUBLE, threshold DOUBLE NOT NULL,
    training_points INTEGER NOT NULL, training_start DATE, training_end DATE,
    detected_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE OR REPLACE VIEW quality_anomalies AS
    SELECT * FROM quality_anomaly_scores WHERE status = 'anomaly';
COMMENT ON TABLE quality_anomaly_scores IS 'Every anomaly verdict per UTC day, partition key and metric (error_rate spikes, records_total both ways), with its baseline.';
COMMENT ON VIEW quality_anomalies IS 'The anomaly rows of quality_anomaly_scores.';
"""

_COLUMNS = ("anomaly_id", "day", "partition_key", "marketplace", "category", "region", "metric",
            "status", "direction", "value", "baseline", "scale", "score", "deviation",
            "relative_change", "threshold", "training_points", "training_start", "training_end")


def anomaly_id(day: date, partition_key: str, metric: str) -> str:
    return str(uuid.uuid5(ANOMALY_NAMESPACE, f"{day.isoformat()}|{partition_key}|{metric}"))


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(SCORES_DDL)


def _series(con: duckdb.DuckDBPyConnection, day: date, weeks: int) -> dict[str, dict[str, dict[date, float]]]:
    rows = con.execute(
        """SELECT partition_key, day, error_rate, records_total FROM marketplace_quality_daily
           WHERE day BETWEEN $start AND $day""",
        {"start": day - timedelta(days=7 * weeks), "day": day},
    ).fetchall()
    series: dict[str, dict[str, dict[date, float]]] = defaultdict(lambda: {"error_rate": {}, "records_total": {}})
    for key, d, err, total in rows:
        series[key]["error_rate"][d] = err
        series[key]["records_total"][d] = total
    return series


def judge_day(con: duckdb.DuckDBPyConnection, day: date, settings: DetectorSettings = DetectorSettings(),
              rules: tuple[MetricRule, ...] = DEFAULT_RULES) -> list[tuple]:
    """The score rows of ``day`` (not written).

    Volume: a key seen on past same weekdays but absent on a day that has other data counts as
    ``records_total = 0`` (a feed that stopped is the drop we most want to see); a day with no
    data at all is not judged (a pipeline outage, covered by freshness checks)."""
    series = _series(con, day, settings.training_weeks)
    if not any(day in s["records_total"] for s in series.values()):
        return []
    out = []
    for key, metrics in sorted(series.items()):
        present = day in metrics["records_total"]
        marketplace, category, region = key.split(":")
        for rule in rules:
            history = metrics[rule.metric]
            if present:
                value = history[day]
            elif rule.metric == "records_total":
                value = 0.0
            else:
                continue  # no records: no error rate to judge
            if not present and len(history) < settings.min_training_points:
                continue  # an occasional key missing is not news
            j = judge(history, day, value, rule, settings)
            deviation = None if j.baseline is None else value - j.baseline
            rel = None if not j.baseline or deviation is None else deviation / abs(j.baseline)
            out.append((anomaly_id(day, key, rule.metric), day, key, marketplace, category, region,
                        rule.metric, j.status, j.direction, float(value), j.baseline, j.scale, j.score,
                        deviation, rel, settings.threshold, j.training_points, j.training_start,
                        j.training_end))
    return out


def refresh_day(con: duckdb.DuckDBPyConnection, day: date, settings: DetectorSettings = DetectorSettings(),
                rules: tuple[MetricRule, ...] = DEFAULT_RULES) -> int:
    """Replace ``day``'s verdicts; return how many anomalies it has."""
    ensure_schema(con)
    rows = judge_day(con, day, settings, rules)
    with transaction(con):
        con.execute("DELETE FROM quality_anomaly_scores WHERE day = $day", {"day": day})
        if rows:
            placeholders = ", ".join("?" for _ in _COLUMNS)
            con.executemany(f"INSERT INTO quality_anomaly_scores ({', '.join(_COLUMNS)}) VALUES ({placeholders})",
                            rows)
    return scalar(con, "SELECT count(*) FROM quality_anomalies WHERE day = $day", {"day": day})
