"""``quality_anomalies``: error-rate spikes and volume changes per partition key, per UTC day.

Thin wrapper over :mod:`jobs_pipeline.warehouse.anomalies` (the detector). Judges a day once its
``marketplace_quality_daily`` partition is complete (:data:`.automation.AFTER_FINISHED_DAY`);
materialised for today anyway (a partial day), it writes ``partial_day`` rows and no anomaly;
a partition range (a backfill) is one run (``SINGLE_RUN``) judging its days in order and
publishing once; its checks are built with the marts' (:mod:`.marts`).
"""

import dagster as dg

from jobs_pipeline.defs.quality.automation import AFTER_FINISHED_DAY
from jobs_pipeline.defs.quality.events import DUCKDB_POOL
from jobs_pipeline.defs.quality.partitions import DAILY, FRESHNESS, GROUP, SINGLE_RUN, days_between, days_of, publish_days
from jobs_pipeline.defs.resources.warehouse import DuckDBWarehouseResource
from jobs_pipeline.warehouse import anomalies
from jobs_pipeline.warehouse.detector import DetectorSettings


class AnomalyConfig(dg.Config):
    """Detector knobs; ``threshold`` unset means the warehouse's ``anomaly_sensitivity``
    (``ANOMALY_SENSITIVITY``, default 3)."""

    threshold: float | None = None
    min_training_points: int = 7
    training_weeks: int = 10


@dg.asset(group_name=GROUP, pool=DUCKDB_POOL, kinds={"duckdb"}, deps=[dg.AssetKey("marketplace_quality_daily")],
          partitions_def=DAILY, backfill_policy=SINGLE_RUN, freshness_policy=FRESHNESS,
          automation_condition=AFTER_FINISHED_DAY,
          description="Error-rate spikes and volume changes per partition key, vs the same weekday "
                      "(table quality_anomaly_scores, view quality_anomalies).")
def quality_anomalies(context: dg.AssetExecutionContext, config: AnomalyConfig,
                      warehouse: DuckDBWarehouseResource) -> dg.MaterializeResult:
    start, end = days_of(context)
    days = days_between(start, end)
    threshold = config.threshold if config.threshold is not None else warehouse.anomaly_sensitivity
    settings = DetectorSettings(threshold=threshold, min_training_points=config.min_training_points,
                                training_weeks=config.training_weeks)
    with warehouse.connect() as con:
        # Each day re-judges its own look-back from marketplace_quality_daily: any order is fine.
        found = sum(anomalies.refresh_day(con, day, settings) for day in days)
        judged, thin, partial, opened = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE status = 'not_enough_history'), "
            "count(*) FILTER (WHERE status = 'partial_day'), "
            "count(DISTINCT incident_id) FILTER (WHERE incident_state = 'opened') "
            "FROM quality_anomaly_scores WHERE day BETWEEN $start AND $end", {"start": start, "end": end}).fetchall()[0]
        publish_days(warehouse, con, "quality_anomaly_scores", days)
    return dg.MaterializeResult(metadata={
        "dagster/row_count": int(judged), "anomalies": int(found), "judged": int(judged),
        "not_enough_history": int(thin), "threshold": float(threshold),
        "incidents_opened": int(opened), "partial_day": bool(partial), "days": len(days),
    })
