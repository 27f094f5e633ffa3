"""``landing_sensor``: one ``validate_feed`` run per new or changed file in the landing folder.

Thin wrapper over :func:`jobs_pipeline.landing.plan.plan_tick`; the ``run_key`` is the file
version's digest (path + size + mtime), so Dagster itself also refuses a duplicate.
A bad path (wrong depth, bad or undecodable name, a link) is logged once, escaped, and skipped;
an unreadable folder is logged; the sensor never raises on one file.
"""

import time

import dagster as dg

from jobs_pipeline.defs.resources.landing import LandingZoneResource
from jobs_pipeline.defs.feeds.validate_feed import validate_feed
from jobs_pipeline.landing.files import scan_landing
from jobs_pipeline.landing.plan import Launch, plan_tick


def run_request_for(launch: Launch) -> dg.RunRequest:
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


@dg.sensor(job=validate_feed, minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Launch validate_feed for each new or changed file under the landing folder.")
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
    requests = [run_request_for(launch) for launch in plan.launches]
    if not requests:
        return dg.SensorResult(skip_reason="no new or changed files", cursor=plan.cursor)
    return dg.SensorResult(run_requests=requests, cursor=plan.cursor)
