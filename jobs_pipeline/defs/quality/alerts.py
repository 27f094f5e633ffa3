"""``quality_alert_sensor``: each new row of ``quality_anomalies`` becomes exactly one alert.

The run (``quality_alert_job``) sends through the ``alert_sink`` resource and logs the
``quality.anomaly`` event. Only anomalies within ``LOOKBACK_DAYS`` of the newest judged day
count, so backfilling old history pages no one. Exactly-once: see :func:`quality_alert_sensor`.
"""

import json
import time
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import duckdb

from jobs_pipeline.warehouse.alerts import AnomalyAlert, emit_anomaly_event
from jobs_pipeline.defs.resources.alerts import AlertSinkResource
from jobs_pipeline.defs.resources.warehouse import DuckDBWarehouseResource

LOOKBACK_DAYS = 14
MAX_ALERTS_PER_TICK = 50
SETTLE_SECONDS = 20.0

_ALERT_SQL = f"""
SELECT anomaly_id, day, partition_key, marketplace, category, region, metric, direction, value,
       baseline, score, threshold, relative_change, training_points, training_start, training_end
FROM quality_anomalies
WHERE day >= (SELECT max(day) FROM quality_anomaly_scores) - INTERVAL {LOOKBACK_DAYS} DAY
ORDER BY day, partition_key, metric
"""


class QualityAlertConfig(dg.Config):
    """One anomaly, as :class:`AnomalyAlert` fields (dates as ISO strings)."""

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


@dg.op(description="Send one quality anomaly alert and log its quality.anomaly event.")
def send_quality_alert(context: dg.OpExecutionContext, config: QualityAlertConfig,
                       alert_sink: AlertSinkResource) -> None:
    alert = AnomalyAlert(**config.model_dump())
    alert_sink.get_sink().send(alert)
    emit_anomaly_event(alert)
    context.log.warning(alert.summary)


@dg.job(description="One quality anomaly alert (launched by quality_alert_sensor).")
def quality_alert_job() -> None:
    send_quality_alert()


def pending_alerts(con: duckdb.DuckDBPyConnection, alerted: set[str]) -> tuple[list[AnomalyAlert], str | None]:
    """Anomalies in the look-back window not yet alerted, and the newest judged day."""
    cur = con.execute(_ALERT_SQL)
    names = [d[0] for d in cur.description]
    rows = [dict(zip(names, r)) for r in cur.fetchall()]
    newest = con.execute("SELECT max(day) FROM quality_anomaly_scores").fetchall()[0][0]
    alerts = [AnomalyAlert(alert_id=r.pop("anomaly_id"), **r) for r in rows if r["anomaly_id"] not in alerted]
    return alerts, None if newest is None else newest.isoformat()


def database_version(path: str | Path) -> float | None:
    """Latest modification time of the database file and its WAL (None: no database yet)."""
    times = [p.stat().st_mtime for p in (Path(path), Path(f"{path}.wal")) if p.exists()]
    return max(times) if times else None


@dg.sensor(job=quality_alert_job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Turn each new quality anomaly into one alert run (exactly once).")
def quality_alert_sensor(context: dg.SensorEvaluationContext,
                         warehouse: DuckDBWarehouseResource) -> dg.SensorResult | dg.SkipReason:
    """Three layers keep each anomaly to one alert, across daemon restarts and recomputed days:

    1. The cursor (stored in the Dagster instance) holds the ``anomaly_id`` of every anomaly
       already requested within the look-back window; ``anomaly_id`` derives from
       ``day|partition_key|metric``, so recomputing a day keeps the same ids.
    2. Each run request has ``run_key = "quality-anomaly:<anomaly_id>"``; Dagster never launches
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
            alerts, newest = pending_alerts(con, set(alerted))
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
                      tags={"quality/anomaly_id": a.alert_id, "quality/partition_key": a.partition_key})
        for a in batch
    ]
    cursor = {"alerted": alerted}
    if len(alerts) == len(batch):  # everything pending was requested: skip until the file changes
        cursor["db_version"] = version
    return dg.SensorResult(run_requests=run_requests, cursor=json.dumps(cursor, sort_keys=True))
