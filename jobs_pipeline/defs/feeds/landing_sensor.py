"""``landing_sensor``: new or changed files in the landing folder, in ``validate_feeds`` batches.

Thin wrapper over :func:`jobs_pipeline.landing.plan.plan_tick` and
:func:`jobs_pipeline.defs.feeds.batches.batch_requests` (content-addressed run keys).
A bad path (wrong depth, bad or undecodable name, a link) is logged once, escaped, and skipped;
an unreadable folder is logged; the sensor never raises on one file.
"""

import time

import dagster as dg

from jobs_pipeline.defs.feeds.batches import batch_requests, launchable
from jobs_pipeline.defs.feeds.validate_feeds import validate_feeds
from jobs_pipeline.defs.resources.landing import LandingZoneResource
from jobs_pipeline.landing.files import scan_landing
from jobs_pipeline.landing.plan import Launch, plan_tick


SENSOR_NAME = "landing_sensor"
INTERVAL_S = 5  # a file is launched on the tick after the one that first saw it (settled)


def run_request_for(launch: Launch) -> dg.RunRequest:
    """A ``validate_feed`` run for one file (run key = the file version's digest)."""
    ctx = launch.context
    return dg.RunRequest(
        run_key=launch.file.run_key,
        run_config={"ops": {"describe_feed": {"config": {
            "path": str(launch.file.path),
            "marketplace": ctx.marketplace,
            "category": ctx.category,
            "region": ctx.region,
            "tier": ctx.tier.value,
            "job_id": str(launch.file.job_id),
        }}}},
        tags={"marketplace": ctx.marketplace, "tier": ctx.tier.value, "partition_key": ctx.partition_key,
              "source": "landing"},
    )


@dg.sensor(name=SENSOR_NAME, jobs=[validate_feeds], minimum_interval_seconds=INTERVAL_S,
           default_status=dg.DefaultSensorStatus.RUNNING,
           description="Launch validate_feeds batches for the new or changed files under the landing folder.")
def landing_sensor(context: dg.SensorEvaluationContext, landing: LandingZoneResource) -> dg.SensorResult:
    started = time.time()  # before listing: a file created during the scan is newer than this
    try:
        files = list(scan_landing(landing.landing_dir, unusable=True))
    except OSError as exc:  # the folder itself is unreadable: report and keep the cursor
        context.log.error(f"cannot list {landing.landing_dir}: {type(exc).__name__}: {exc}")
        return dg.SensorResult(skip_reason=f"landing folder unreadable: {type(exc).__name__}", cursor=context.cursor)
    plan = plan_tick(files, context.cursor, tier=landing.tier, max_files=landing.max_files_per_tick,
                     settle_seconds=landing.settle_seconds, now=started)
    for f, reason in plan.unusable:
        context.log.warning(f"unusable landing path skipped: {reason}")
    if plan.waiting:
        context.log.info(f"{len(plan.waiting)} file(s) still being written; waiting")
    requests = batch_requests(launchable(context, SENSOR_NAME, plan.launches), source="landing",
                              max_files_per_run=landing.max_files_per_run)
    if not requests:
        return dg.SensorResult(skip_reason="no new or changed files", cursor=plan.cursor)
    return dg.SensorResult(run_requests=requests, cursor=plan.cursor)
