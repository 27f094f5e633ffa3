"""``s3_landing_sensor``: the S3 twin of ``landing_sensor``, defined only when
``JOBS_PIPELINE_LANDING_URI`` is an ``s3://`` location.

Same planning and batches as the local sensor over a bounded, paginated listing; a file's
digest covers key, size, LastModified and ETag, so a re-uploaded object runs again and an
unchanged one never does. An object at an unusable path or with an odd key (control or invisible
characters, an empty or dot-only step) is copied to quarantine once, and logged escaped."""

import dagster as dg

from jobs_pipeline.defs.feeds.batches import batch_requests, launchable
from jobs_pipeline.defs.feeds.landing_sensor import INTERVAL_S
from jobs_pipeline.defs.feeds.validate_feeds import validate_feeds
from jobs_pipeline.defs.resources.s3_landing import S3LandingResource
from jobs_pipeline.settings import load_settings
from jobs_pipeline.landing.files import shown
from jobs_pipeline.landing.s3_plan import parse_s3_cursor, plan_s3_tick
from jobs_pipeline.landing.s3_listing import list_window
from jobs_pipeline.storage.s3_objects import quarantine_object
from jobs_pipeline.storage.uri import is_s3_uri, split_object_uri


def s3_landing_tick(context: dg.SensorEvaluationContext, s3_landing: S3LandingResource) -> dg.SensorResult:
    if not s3_landing.enabled:
        return dg.SensorResult(skip_reason="landing is not on S3 (JOBS_PIPELINE_LANDING_URI)", cursor=context.cursor)
    client = s3_landing.get_client()
    state = parse_s3_cursor(context.cursor)
    try:
        window = list_window(client, s3_landing.root, start_after=state["after"],
                             max_keys=s3_landing.max_keys_per_tick, page_size=s3_landing.page_size,
                             exclude_prefixes=s3_landing.excluded_key_prefixes())
    except Exception as exc:  # bucket unreachable or denied: report, keep the cursor, retry next tick
        context.log.error(f"cannot list {s3_landing.root}: {type(exc).__name__}")
        return dg.SensorResult(skip_reason=f"S3 landing unreadable: {type(exc).__name__}", cursor=context.cursor)
    plan = plan_s3_tick(window.files, context.cursor, last_relpath=window.last_relpath,
                        exhausted=window.exhausted, tier=s3_landing.tier,
                        max_files=s3_landing.max_files_per_tick, max_seen=s3_landing.max_seen)
    for f, reason in plan.unusable:
        bucket, key = split_object_uri(str(f.path))
        try:
            uri = quarantine_object(client, bucket, key, s3_landing.quarantine, f.relpath, reason, etag=f.etag)
            context.log.warning(f"unusable landing object copied to {shown(uri)}: {reason}")
        except Exception as exc:  # never fatal (a key too long for the prefix...); the object stays
            context.log.error(f"unusable landing object {shown(str(f.path))}: {reason}; "
                              f"cannot quarantine it: {type(exc).__name__}")
    launches = launchable(context, SENSOR_NAME, plan.launches)
    requests = batch_requests(launches, source="s3_landing", max_files_per_run=s3_landing.max_files_per_run)
    context.log.info(f"listed {len(window.files)} object(s) in {window.requests} request(s); "
                     f"{len(launches)} new in {len(requests)} run(s), {len(plan.deferred)} deferred, "
                     f"next after {plan.after!r}")
    if not requests:
        return dg.SensorResult(skip_reason="no new or changed objects", cursor=plan.cursor)
    return dg.SensorResult(run_requests=requests, cursor=plan.cursor)


SENSOR_NAME = "s3_landing_sensor"


def build_s3_landing_sensor(minimum_interval_seconds: int = INTERVAL_S) -> dg.SensorDefinition:
    @dg.sensor(name=SENSOR_NAME, jobs=[validate_feeds], minimum_interval_seconds=minimum_interval_seconds,
               default_status=dg.DefaultSensorStatus.RUNNING,
               description="Launch validate_feeds batches for new or re-uploaded objects under the S3 landing prefix.")
    def s3_landing_sensor(context: dg.SensorEvaluationContext, s3_landing: S3LandingResource) -> dg.SensorResult:
        return s3_landing_tick(context, s3_landing)

    return s3_landing_sensor


@dg.definitions
def s3_landing_defs() -> dg.Definitions:
    """The sensor exists only where the landing area is on S3."""
    if not is_s3_uri(load_settings().landing_uri):
        return dg.Definitions()
    return dg.Definitions(sensors=[build_s3_landing_sensor()])
