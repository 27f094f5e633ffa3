"""``quality_alert_sensor``: each incident in ``quality_anomaly_scores`` becomes one alert when it
opens and one when it is resolved; the days it goes on are logged, not alerted.

The run (``quality_alert_job``) sends through the ``alert_sink`` resource and logs the
``quality.anomaly`` event. Only rows within ``LOOKBACK_DAYS`` of the newest judged day
count, so backfilling old history pages no one. Exactly-once: see :func:`quality_alert_sensor`.
"""

import json
import time
import uuid
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import duckdb

from jobs_pipeline.warehouse.alerts import AnomalyAlert, emit_anomaly_event
from jobs_pipeline.warehouse.anomalies import ANOMALY_NAMESPACE
from jobs_pipeline.defs.resources.alerts import AlertSinkResource
from jobs_pipeline.defs.resources.warehouse import DuckDBWarehouseResource

LOOKBACK_DAYS = 14
MAX_ALERTS_PER_TICK = 50
SETTLE_SECONDS = 20.0

_INCIDENT_SQL = f"""
SELECT anomaly_id, day, partition_key, marketplace, category, region, metric, direction, value,
       baseline, score, threshold, relative_change, training_points, training_start, training_end,
       incident_id, incident_state, incident_start, incident_scope, top_error_job_id, top_error_job_share
FROM quality_anomaly_scores
WHERE incident_state IS NOT NULL
  AND day >= (SELECT max(day) FROM quality_anomaly_scores) - INTERVAL {LOOKBACK_DAYS} DAY
ORDER BY day, partition_key, metric
"""


class QualityAlertConfig(dg.Config):
    """One incident alert, as :class:`AnomalyAlert` fields (dates as ISO strings)."""

    alert_id: str
    day: str
    partition_key: str
    marketplace: str
    category: str
    region: str
    metric: str
    direction: str
    value: float
    baseline: float
    score: float
    threshold: float
    relative_change: float | None = None
    training_points: int
    training_start: str | None = None
    training_end: str | None = None
    state: str = "opened"
    incident_id: str | None = None
    incident_start: str | None = None
    incident_scope: str = "key"
    keys: list[str] = []
    closed_as: str | None = None
    incident_days: int | None = None
    top_error_job_id: str | None = None
    top_error_job_share: float | None = None


@dg.op(description="Send one quality incident alert (opened or resolved) and log its quality.anomaly event.")
def send_quality_alert(context: dg.OpExecutionContext, config: QualityAlertConfig,
                       alert_sink: AlertSinkResource) -> None:
    alert = AnomalyAlert(**config.model_dump())
    alert_sink.get_sink().send(alert)
    emit_anomaly_event(alert)
    context.log.warning(alert.summary)


@dg.job(description="One quality incident alert (launched by quality_alert_sensor).")
def quality_alert_job() -> None:
    send_quality_alert()


def resolved_alert_id(incident_id: str) -> str:
    return str(uuid.uuid5(ANOMALY_NAMESPACE, f"{incident_id}|resolved"))


def _alert(rows: list[dict], **extra) -> AnomalyAlert:
    """One alert from an incident's rows of one day (several for a region incident)."""
    first = rows[0]
    if first["incident_scope"] != "region":
        body = {k: first[k] for k in ("day", "partition_key", "marketplace", "category", "region", "metric",
                                      "direction", "value", "baseline", "score", "threshold", "relative_change",
                                      "training_points", "training_start", "training_end", "top_error_job_id",
                                      "top_error_job_share")}
        body["keys"] = [first["partition_key"]]
    else:  # volumes add up across keys; rates are averaged
        n = len(rows)
        agg = sum if first["metric"] == "records_total" else (lambda xs: sum(xs) / n)
        value, baseline = agg([r["value"] for r in rows]), agg([r["baseline"] or 0.0 for r in rows])
        scores = sorted(r["score"] or 0.0 for r in rows)
        body = {"day": first["day"], "partition_key": f"*:*:{first['region']}", "marketplace": "*", "category": "*",
                "region": first["region"], "metric": first["metric"], "direction": first["direction"],
                "value": value, "baseline": baseline, "score": scores[n // 2], "threshold": first["threshold"],
                "relative_change": (value - baseline) / baseline if baseline else None,
                "training_points": min(r["training_points"] for r in rows),
                "training_start": min((r["training_start"] for r in rows if r["training_start"]), default=None),
                "training_end": max((r["training_end"] for r in rows if r["training_end"]), default=None),
                "keys": sorted(r["partition_key"] for r in rows)}
    return AnomalyAlert(incident_id=first["incident_id"], incident_start=first["incident_start"],
                        incident_scope=first["incident_scope"], **body, **extra)


def pending_alerts(con: duckdb.DuckDBPyConnection, alerted: set[str]
                   ) -> tuple[list[AnomalyAlert], dict[str, tuple[str, str]], str | None]:
    """Alerts in the look-back window not yet sent, the ongoing incidents, and the newest judged day.

    * **opened**: one alert per ``incident_id`` on its first day (``alert_id`` = ``incident_id``,
      which for a one-key incident is the ``anomaly_id`` of its first day);
    * **resolved**: one alert per incident whose last closing day (``recovered``/``adapted``) is
      after its last open day (every key of a region incident closed), ``alert_id`` = UUIDv5 of
      ``<incident_id>|resolved``;
    * **ongoing**: ``incident_id`` -> (newest ongoing day, what): no alert, the sensor logs it.
    """
    cur = con.execute(_INCIDENT_SQL)
    names = [d[0] for d in cur.description]
    rows = [dict(zip(names, r)) for r in cur.fetchall()]
    newest = con.execute("SELECT max(day) FROM quality_anomaly_scores").fetchall()[0][0]
    by_incident: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by_incident[r["incident_id"]].append(r)
    alerts: list[AnomalyAlert] = []
    ongoing: dict[str, tuple[str, str]] = {}
    for incident_id, members in by_incident.items():
        opened = [r for r in members if r["incident_state"] == "opened"]
        if opened and incident_id not in alerted:
            alerts.append(_alert(opened, alert_id=incident_id))
        active = [r["day"] for r in members if r["incident_state"] in ("opened", "ongoing")]
        closing = [r for r in members if r["incident_state"] in ("recovered", "adapted")]
        if closing and (not active or max(r["day"] for r in closing) > max(active)):
            rid = resolved_alert_id(incident_id)
            if rid not in alerted:
                last = max(r["day"] for r in closing)
                on_last = [r for r in closing if r["day"] == last]
                closed_as = "recovered" if all(r["incident_state"] == "recovered" for r in closing) else "adapted"
                alerts.append(_alert(on_last, alert_id=rid, state="resolved", closed_as=closed_as,
                                     incident_days=(last - members[0]["incident_start"]).days))
        elif going := [r["day"] for r in members if r["incident_state"] == "ongoing"]:
            m = members[0]
            subject = f"region {m['region']}" if m["incident_scope"] == "region" else m["partition_key"]
            ongoing[incident_id] = (max(going).isoformat(), f"{m['metric']} {m['direction']} for {subject} "
                                                            f"since {m['incident_start']}")
    alerts.sort(key=lambda a: (a.day, a.state != "resolved", a.partition_key, a.metric))
    return alerts, ongoing, None if newest is None else newest.isoformat()


def database_version(path: str | Path) -> float | None:
    """Latest modification time of the database file and its WAL (None: no database yet)."""
    times = [p.stat().st_mtime for p in (Path(path), Path(f"{path}.wal")) if p.exists()]
    return max(times) if times else None


@dg.sensor(job=quality_alert_job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING,
           description="One alert run per quality incident opened and one per incident resolved (exactly once).")
def quality_alert_sensor(context: dg.SensorEvaluationContext,
                         warehouse: DuckDBWarehouseResource) -> dg.SensorResult | dg.SkipReason:
    """One alert when an incident opens, one when it is resolved; its ongoing days are logged
    (one line per incident and new day) and kept in the cursor (``ongoing``), never alerted.
    Three layers keep each alert to one run, across daemon restarts and recomputed days:

    1. The cursor (stored in the Dagster instance) holds the ``alert_id`` of every alert
       already requested within the look-back window; ids derive from the incident's first
       ``day|partition_key|metric`` (or region), so recomputing a day keeps the same ids.
    2. Each run request has ``run_key = "quality-anomaly:<alert_id>"``; Dagster never launches
       two runs with the same key for a sensor, even if the cursor were reset.
    3. The webhook gets the id as ``Idempotency-Key`` (a retry after a successful POST).

    It reads the published snapshot (never the writers' file, so it blocks no writer), only
    when the snapshot changed since the last complete read and has been quiet for
    ``SETTLE_SECONDS``."""
    state = json.loads(context.cursor) if context.cursor else {}
    alerted: dict[str, str] = state.get("alerted", {})
    # The snapshot is swapped in whole and no writer opens it; still, read it only when it
    # changed since the last complete read and has been quiet for SETTLE_SECONDS.
    version = database_version(warehouse.snapshot_file())
    if version is None:
        return dg.SkipReason("no quality database yet")
    if state.get("db_version") == version:
        return dg.SkipReason("quality database unchanged since the last tick")
    if time.time() - version < SETTLE_SECONDS:
        return dg.SkipReason(f"quality database written less than {SETTLE_SECONDS:g} s ago; waiting")
    try:
        with warehouse.read_snapshot() as con:
            alerts, ongoing, newest = pending_alerts(con, set(alerted))
    except (duckdb.IOException, duckdb.CatalogException) as exc:  # busy writer, or no marts yet
        return dg.SkipReason(f"quality anomalies not readable now: {type(exc).__name__}")
    batch = alerts[:MAX_ALERTS_PER_TICK]
    for alert in batch:
        alerted[alert.alert_id] = alert.day.isoformat()
    if newest:  # forget ids that fell out of the window: they can never be read again
        oldest = (date.fromisoformat(newest) - timedelta(days=LOOKBACK_DAYS)).isoformat()
        alerted = {k: v for k, v in alerted.items() if v >= oldest}
    run_requests = [
        dg.RunRequest(run_key=f"quality-anomaly:{a.alert_id}",
                      run_config={"ops": {"send_quality_alert": {"config": a.model_dump(
                          mode="json", exclude={"type", "schema_version"})}}},
                      tags={"quality/anomaly_id": a.alert_id, "quality/partition_key": a.partition_key,
                            "quality/alert_state": a.state})
        for a in batch
    ]
    # An incident going on is news for the log, not a new alert: one line per incident and new day.
    seen: dict[str, str] = state.get("ongoing", {})
    for incident_id, (day, what) in sorted(ongoing.items()):
        if seen.get(incident_id) != day:
            context.log.info(f"incident {incident_id} ongoing on {day}: {what} (no new alert)")
    cursor = {"alerted": alerted, "ongoing": {k: day for k, (day, _) in ongoing.items()}}
    if len(alerts) == len(batch):  # everything pending was requested: skip until the file changes
        cursor["db_version"] = version
    return dg.SensorResult(run_requests=run_requests, cursor=json.dumps(cursor, sort_keys=True))
