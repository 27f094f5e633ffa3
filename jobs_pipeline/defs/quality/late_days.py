"""``job_runs_changed_days_sensor``: every day whose ``job_runs`` rows changed is rebuilt next.

Each ``job_runs`` materialisation names the UTC days whose finished rows changed (metadata
``changed_days``: today's new jobs, and any older day a late event finished, moved or changed).
The sensor reads those materialisations after its cursor (a storage id, kept in the Dagster
instance) and asks for the marts of those days, through the asset graph rather than a clock:

- ``marketplace_quality_daily``, ``region_latency_daily``, ``field_error_hotspots``,
  ``quality_anomalies`` and ``quality_recommendations`` of each changed day (the detector writes
  no verdict on a partial day);
- ``field_error_hotspots`` and ``quality_recommendations`` of the 7 days after each changed day
  too: their trend reads it.

Contiguous days are one run over a partition range (the marts run a range as one run,
``BackfillPolicy.single_run``), checks included. Run keys are the content (asset set, range,
the last storage id read): a tick evaluated twice asks for nothing new, a later change of the
same days gets its own run.
"""

import hashlib
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

import dagster as dg

from jobs_pipeline.defs.quality.marts import (
    field_error_hotspots, mart_checks, marketplace_quality_daily, marts_job, quality_anomalies, region_latency_daily,
)
from jobs_pipeline.defs.quality.recommendations import quality_recommendations, recommendation_checks
from jobs_pipeline.defs.quality.tables import CHANGED_DAYS

SENSOR_NAME = "job_runs_changed_days_sensor"
#: ``field_error_hotspots`` of a day reads the 7 days before it (``errors_prev_7d``).
TREND_DAYS = 7
#: Materialisations of ``job_runs`` read per tick (the cursor resumes after the last one).
MAX_RECORDS_PER_TICK = 500

_DAY_ASSETS = (marketplace_quality_daily, region_latency_daily, field_error_hotspots, quality_anomalies,
               quality_recommendations)
#: Assets whose day reads the 7 days before it (a trend): rebuilt for the 7 days after a change.
_TREND_ASSETS = (field_error_hotspots, quality_recommendations)


def _takes_ranges(asset: dg.AssetsDefinition) -> bool:
    """Whether ``asset`` computes a partition range in one run (else: one run per day)."""
    policy = asset.backfill_policy
    return policy is not None and policy.max_partitions_per_run is None


def _ranges(days: Iterable[date]) -> list[tuple[date, date]]:
    """Contiguous runs of ``days`` as (first, last) pairs, in order."""
    out: list[tuple[date, date]] = []
    for d in sorted(set(days)):
        if out and d == out[-1][1] + timedelta(days=1):
            out[-1] = (out[-1][0], d)
        else:
            out.append((d, d))
    return out


def plan_runs(changed: Iterable[date], last_day: date) -> list[tuple[tuple[str, ...], date, date]]:
    """(asset names, first day, last day) of each run rebuilding ``changed`` (days after
    ``last_day``, the newest partition, are dropped): every mart of a changed day, and the hot
    spots of the 7 days after it."""
    changed = {d for d in changed if d <= last_day}
    trend = {d + timedelta(days=i) for d in changed for i in range(1, TREND_DAYS + 1)} - changed
    trend = {d for d in trend if d <= last_day}
    names = tuple(a.key.to_user_string() for a in _DAY_ASSETS)
    # Every asset of a changed day in one run (the anomalies read that run's marts); as ranges
    # when all of them take ranges, else day by day.
    spans = (_ranges(changed) if all(_takes_ranges(a) for a in _DAY_ASSETS)
             else [(d, d) for d in sorted(changed)])
    return ([(names, a, b) for a, b in spans]
            + [(tuple(a.key.to_user_string() for a in _TREND_ASSETS), first, last)
               for first, last in _ranges(trend)])


def _run_request(names: tuple[str, ...], first: date, last: date, through: int) -> dg.RunRequest:
    content = f"{','.join(names)}|{first}|{last}|{through}"
    run_key = f"job-runs-days:{first}..{last}:{hashlib.sha256(content.encode()).hexdigest()[:16]}"
    keys = [dg.AssetKey(n) for n in names]
    checks = [c for spec in [*mart_checks, *recommendation_checks] for c in spec.check_keys if c.asset_key in keys]
    tags = {"dagster/asset_partition_range_start": first.isoformat(),
            "dagster/asset_partition_range_end": last.isoformat(),
            "quality/changed_days": f"{first}..{last}"}
    if first == last:  # one partition: an ordinary partitioned run
        return dg.RunRequest(run_key=run_key, asset_selection=keys, asset_check_keys=checks,
                             partition_key=first.isoformat(), tags={"quality/changed_days": str(first)})
    return dg.RunRequest(run_key=run_key, asset_selection=keys, asset_check_keys=checks, tags=tags)


@dg.sensor(name=SENSOR_NAME, job=marts_job, minimum_interval_seconds=60,
           default_status=dg.DefaultSensorStatus.RUNNING,
           description="Rebuild the marts of every UTC day whose job_runs rows changed (late events included).")
def job_runs_changed_days_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
    after = int(context.cursor) if context.cursor else None
    result = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("job_runs"), after_storage_id=after),
        limit=MAX_RECORDS_PER_TICK, ascending=True)
    if not result.records:
        return dg.SkipReason("no job_runs materialisation since the last tick")
    changed: set[date] = set()
    for record in result.records:
        meta = record.asset_materialization.metadata if record.asset_materialization else {}
        value = meta.get(CHANGED_DAYS)
        changed |= {date.fromisoformat(d) for d in (value.value if value is not None else [])}
    through = result.records[-1].storage_id
    newest = datetime.now(UTC).date()  # DAILY ends a day ahead: today is its newest partition
    plan = plan_runs(changed, newest)
    requests = [_run_request(names, a, b, through) for names, a, b in plan]
    context.log.info(f"{len(changed)} changed day(s) -> {len(requests)} run(s)")
    return dg.SensorResult(run_requests=requests, cursor=str(through))
