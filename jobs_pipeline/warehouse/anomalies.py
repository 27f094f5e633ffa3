"""``quality_anomaly_scores`` and the ``quality_anomalies`` view: the detector applied to
``marketplace_quality_daily``, one UTC day at a time.

Every verdict (``anomaly``, ``normal``, ``not_enough_history``, ``partial_day``) is kept with
its baseline, scale, score, training window and incident; ``anomaly_id`` (UUIDv5 of
``day|partition_key|metric``) is stable across recomputations, and so is ``incident_id``
(the ``anomaly_id`` of the incident's first day, or a region incident's own UUIDv5), so the
alert sensor sends each incident once (docs/dashboards.md).

One day is judged with one read of the window and array arithmetic (:mod:`.detector`): the
past ``incident_lookback_days`` are re-judged with it, which says whether the day opens,
continues or closes an incident without depending on stored rows of other days (idempotent,
any order of backfill).
"""

import uuid
from datetime import UTC, date, datetime, time, timedelta

import duckdb
import numpy as np
import pyarrow as pa

from jobs_pipeline.warehouse.connection import transaction
from jobs_pipeline.warehouse.detector import (
    ANOMALY, DEFAULT_RULES, NORMAL, ONGOING, OPENED, STATE_NAMES, STATUS_NAMES, THIN, DetectorSettings, MetricRule,
    judge_window, track_incidents,
)
from jobs_pipeline.warehouse.tables import FINISHED_RUNS

ANOMALY_NAMESPACE = uuid.UUID("6b1f3c1e-2a47-4d8e-9d0c-2f4f7a1c9e55")

#: A job "carries" a day's errors for a key when it holds more than this share of them.
TOP_JOB_MIN_SHARE = 0.5

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
ALTER TABLE quality_anomaly_scores ADD COLUMN IF NOT EXISTS incident_id VARCHAR;
ALTER TABLE quality_anomaly_scores ADD COLUMN IF NOT EXISTS incident_state VARCHAR;
ALTER TABLE quality_anomaly_scores ADD COLUMN IF NOT EXISTS incident_start DATE;
ALTER TABLE quality_anomaly_scores ADD COLUMN IF NOT EXISTS incident_scope VARCHAR;
ALTER TABLE quality_anomaly_scores ADD COLUMN IF NOT EXISTS top_error_job_id VARCHAR;
ALTER TABLE quality_anomaly_scores ADD COLUMN IF NOT EXISTS top_error_job_share DOUBLE;
CREATE OR REPLACE VIEW quality_anomalies AS
    SELECT * FROM quality_anomaly_scores WHERE status = 'anomaly';
COMMENT ON TABLE quality_anomaly_scores IS 'Every anomaly verdict per UTC day, partition key and metric (error_rate spikes, records_total both ways), with its baseline and incident.';
COMMENT ON VIEW quality_anomalies IS 'The anomaly rows of quality_anomaly_scores (an incident''s opening and ongoing days).';
"""

_COLUMNS = ("anomaly_id", "day", "partition_key", "marketplace", "category", "region", "metric",
            "status", "direction", "value", "baseline", "scale", "score", "deviation",
            "relative_change", "threshold", "training_points", "training_start", "training_end",
            "incident_id", "incident_state", "incident_start", "incident_scope",
            "top_error_job_id", "top_error_job_share")

_SCHEMA = pa.schema([
    ("anomaly_id", pa.string()), ("day", pa.date32()), ("partition_key", pa.string()),
    ("marketplace", pa.string()), ("category", pa.string()), ("region", pa.string()), ("metric", pa.string()),
    ("status", pa.string()), ("direction", pa.string()), ("value", pa.float64()), ("baseline", pa.float64()),
    ("scale", pa.float64()), ("score", pa.float64()), ("deviation", pa.float64()),
    ("relative_change", pa.float64()), ("threshold", pa.float64()), ("training_points", pa.int32()),
    ("training_start", pa.date32()), ("training_end", pa.date32()), ("incident_id", pa.string()),
    ("incident_state", pa.string()), ("incident_start", pa.date32()), ("incident_scope", pa.string()),
    ("top_error_job_id", pa.string()), ("top_error_job_share", pa.float64()),
])


def anomaly_id(day: date, partition_key: str, metric: str) -> str:
    return str(uuid.uuid5(ANOMALY_NAMESPACE, f"{day.isoformat()}|{partition_key}|{metric}"))


def region_incident_id(day: date, region: str, metric: str, direction: str) -> str:
    """The id of a region incident (all its keys opened the same way on ``day``)."""
    return str(uuid.uuid5(ANOMALY_NAMESPACE, f"{day.isoformat()}|region:{region}|{metric}|{direction}"))


def _columns(con: duckdb.DuckDBPyConnection) -> dict[str, set[str]]:
    """Columns of the tables this module reads or writes (one catalog query)."""
    found: dict[str, set[str]] = {}
    for table, column in con.execute(
            "SELECT table_name, column_name FROM duckdb_columns() WHERE schema_name = 'main' AND table_name IN "
            "('marketplace_quality_daily', 'job_runs', 'quality_anomaly_scores')").fetchall():
        found.setdefault(table, set()).add(column)
    return found


def ensure_schema(con: duckdb.DuckDBPyConnection, columns: dict[str, set[str]] | None = None) -> None:
    """Create or migrate the table (adds the incident columns to an older one); a no-op when current."""
    have = (columns if columns is not None else _columns(con)).get("quality_anomaly_scores", set())
    if not set(_COLUMNS) <= have:
        con.execute(SCORES_DDL)


def day_has_ended(day: date, now: datetime | None = None) -> bool:
    """Whether the UTC ``day`` is over at ``now`` (default: the clock)."""
    now = now or datetime.now(UTC)
    return now >= datetime.combine(day + timedelta(days=1), time(0), tzinfo=UTC)


def _top_jobs(con: duckdb.DuckDBPyConnection, day: date, columns: dict[str, set[str]]) -> dict[str, tuple[str, float]]:
    """Per partition key, the job holding more than half of ``day``'s error records, and its share."""
    if "job_runs" not in columns:
        return {}
    rows = con.execute(
        f"""SELECT partition_key, first(job_id ORDER BY records_error DESC, job_id) AS job,
                   max(records_error) / sum(records_error) AS share
            FROM ({FINISHED_RUNS}) WHERE day = $day GROUP BY partition_key HAVING sum(records_error) > 0""",
        {"day": day}).fetchall()
    return {key: (str(job), float(share)) for key, job, share in rows if share > TOP_JOB_MIN_SHARE}


def judge_day(con: duckdb.DuckDBPyConnection, day: date, settings: DetectorSettings = DetectorSettings(),
              rules: tuple[MetricRule, ...] = DEFAULT_RULES, now: datetime | None = None,
              columns: dict[str, set[str]] | None = None) -> list[dict]:
    """The score rows of ``day`` (not written).

    * Volume: a key seen in the window but absent on a day that has other data counts as
      ``records_total = 0`` (a feed that stopped is the drop we most want to see); a day with
      no data at all is not judged (a pipeline outage, covered by freshness checks).
    * A **partial day** (its UTC day has not ended at ``now``, or its mart rows say
      ``is_partial``) is never judged: its rows have status ``partial_day`` (baseline shown,
      no score, no incident), and missing keys are not counted as drops. Partial days never
      train either.
    """
    lookback, weeks = settings.incident_lookback_days, settings.training_weeks
    start = day - timedelta(days=lookback + 7 * weeks)
    n_days = (day - start).days + 1
    columns = columns if columns is not None else _columns(con)
    partial_sql = "coalesce(is_partial, false)" if "is_partial" in columns.get("marketplace_quality_daily", ()) else "false"
    res = con.execute(
        f"""SELECT partition_key, datediff('day', $start, day)::INTEGER AS t, error_rate::DOUBLE AS error_rate,
                   records_total::DOUBLE AS records_total, {partial_sql} AS partial
            FROM marketplace_quality_daily WHERE day BETWEEN $start AND $day ORDER BY partition_key""",
        {"start": start, "day": day}).fetchnumpy()
    if not len(res["t"]) or not (res["t"] == n_days - 1).any():
        return []
    names = np.asarray(res["partition_key"], dtype=object)  # sorted: a new key where the name changes
    key_of = np.concatenate([[0], np.cumsum(names[1:] != names[:-1])]).astype(np.int64)
    keys = names[np.concatenate([[True], names[1:] != names[:-1]])]
    t = np.asarray(res["t"], dtype=np.int64)
    present = np.zeros((len(keys), n_days), dtype=bool)
    present[key_of, t] = True
    partial = np.zeros(n_days, dtype=bool)
    partial[t[np.asarray(res["partial"], dtype=bool)]] = True
    today = n_days - 1
    partial[today] |= not day_has_ended(day, now)
    is_partial = bool(partial[today])
    has_data = present.any(axis=0)
    chain = np.array([i for i in range(today - lookback, today + 1) if has_data[i] and not partial[i]], dtype=np.int64)
    judged = np.append(chain, today) if is_partial else chain
    # Keys seen on enough days before each judged day may count as volume 0 when absent.
    seen = np.concatenate([np.zeros((len(keys), 1), dtype=np.int64), present.cumsum(axis=1)], axis=1)
    seen_before = seen[:, judged] - seen[:, np.clip(judged - 7 * weeks, 0, None)]
    parts = [k.split(":") for k in keys]
    regions = np.array([p[2] for p in parts], dtype=object)
    top = _top_jobs(con, day, columns)
    out: list[dict] = []
    for rule in rules:
        series = np.full((len(keys), n_days), np.nan)
        series[key_of, t] = np.asarray(res[rule.metric], dtype=float)
        values = series[:, judged].copy()
        series[:, partial] = np.nan  # partial days never train
        if rule.metric == "records_total":
            stopped = ~present[:, judged] & has_data[judged][None, :] & (seen_before >= settings.min_training_points)
            if is_partial:
                stopped[:, -1] = False  # a key not seen yet today is not a drop
            values[stopped] = 0.0
        v = judge_window(series, judged, values, rule, settings)
        n_chain = len(chain)
        chain_v = v if not is_partial else type(v)(*(getattr(v, f)[:, :n_chain] for f in v.__dataclass_fields__))
        inc = track_incidents(chain_v, rule, regions, settings, chain)
        col = len(judged) - 1
        for k, key in enumerate(keys):
            code = int(v.code[k, col])
            if code < THIN:
                continue
            value = float(v.value[k, col])
            baseline = None if code == THIN else float(v.baseline[k, col])
            deviation = None if baseline is None else value - baseline
            first, last = int(v.training_first[k, col]), int(v.training_last[k, col])
            row = {
                "anomaly_id": anomaly_id(day, key, rule.metric), "day": day, "partition_key": key,
                "marketplace": parts[k][0], "category": parts[k][1], "region": parts[k][2], "metric": rule.metric,
                "status": STATUS_NAMES[code], "direction": None, "value": value, "baseline": baseline,
                "scale": None if baseline is None else float(v.scale[k, col]), "score": None,
                "deviation": deviation, "relative_change": None if not baseline else deviation / abs(baseline),
                "threshold": settings.threshold, "training_points": int(v.training_points[k, col]),
                "training_start": start + timedelta(days=first) if first >= 0 else None,
                "training_end": start + timedelta(days=last) if last >= 0 else None,
                "incident_id": None, "incident_state": None, "incident_start": None, "incident_scope": None,
                "top_error_job_id": top.get(key, (None, None))[0], "top_error_job_share": top.get(key, (None, None))[1],
            }
            if is_partial:
                row["status"] = "partial_day"
            elif code >= NORMAL:
                row["direction"] = "spike" if v.sign[k, col] > 0 else "drop"
                row["score"] = float(v.score[k, col])
                state = int(inc.state[k, col])
                if state:
                    opened_on = start + timedelta(days=int(chain[inc.start[k, col]]))
                    direction = "spike" if inc.sign[k, col] > 0 else "drop"
                    row.update(
                        status="anomaly" if state in (OPENED, ONGOING) else "normal",
                        incident_state=STATE_NAMES[state], incident_start=opened_on,
                        incident_scope="region" if inc.regional[k, col] else "key",
                        incident_id=(region_incident_id(opened_on, parts[k][2], rule.metric, direction)
                                     if inc.regional[k, col] else anomaly_id(opened_on, key, rule.metric)))
                else:
                    row["status"] = "normal" if code in (NORMAL, ANOMALY) else row["status"]
            out.append(row)
    return out


def refresh_day(con: duckdb.DuckDBPyConnection, day: date, settings: DetectorSettings = DetectorSettings(),
                rules: tuple[MetricRule, ...] = DEFAULT_RULES, now: datetime | None = None) -> int:
    """Replace ``day``'s verdicts; return how many anomalies it has (0 on a partial day)."""
    columns = _columns(con)
    ensure_schema(con, columns)
    rows = judge_day(con, day, settings, rules, now, columns)
    table = pa.Table.from_pylist(rows, schema=_SCHEMA)
    con.register("_new_scores", table)
    try:
        with transaction(con):
            con.execute("DELETE FROM quality_anomaly_scores WHERE day = $day", {"day": day})
            cols = ", ".join(_COLUMNS)
            con.execute(f"INSERT INTO quality_anomaly_scores ({cols}) SELECT {cols} FROM _new_scores")
    finally:
        con.unregister("_new_scores")
    return sum(1 for r in rows if r["status"] == "anomaly")
