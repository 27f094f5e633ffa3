"""A tick's launches as ``validate_feeds`` run requests: pro before free, at most
``max_files_per_run`` files of one tier and marketplace per run. The run key digests the files'
own run keys (content-addressed: the same versions never run twice, a changed file runs again);
each file keeps its job id and its version digest (``file_key``) in the run config. Queued jobs
(SQS) batch the same way, keyed by their job ids."""

import hashlib

import dagster as dg

from jobs_pipeline.domain.model import ValidationJob
from jobs_pipeline.landing.plan import Launch

BATCH_JOB = "validate_feeds"
RUN_KEY_TAG = "dagster/run_key"
SENSOR_NAME_TAG = "dagster/sensor_name"
PRIORITY = {"pro": "10", "free": "0"}  # the run queue dequeues higher dagster/priority first


def feed_config(launch: Launch) -> dict:
    ctx = launch.context
    return {"path": str(launch.file.path), "marketplace": ctx.marketplace, "category": ctx.category,
            "region": ctx.region, "tier": ctx.tier.value, "job_id": str(launch.file.job_id),
            "file_key": launch.file.run_key}


def batch_run_key(launches: list[Launch]) -> str:
    return hashlib.sha256("|".join(sorted(l.file.run_key for l in launches)).encode()).hexdigest()[:32]


def batch_requests(launches: list[Launch], *, source: str, max_files_per_run: int) -> list[dg.RunRequest]:
    """Group by (tier, marketplace), pro first, in the order the plan gave, then chunk."""
    groups: dict[tuple[str, str], list[Launch]] = {}
    for launch in sorted(launches, key=lambda l: l.context.tier.value != "pro"):  # stable: keeps plan order
        groups.setdefault((launch.context.tier.value, launch.context.marketplace), []).append(launch)
    size = max(1, max_files_per_run)
    requests = []
    for (tier, marketplace), group in groups.items():
        for start in range(0, len(group), size):
            chunk = group[start:start + size]
            tags = {"marketplace": marketplace, "tier": tier, "source": source, "files": str(len(chunk)),
                    "dagster/priority": PRIORITY.get(tier, "0")}
            if len({l.context.partition_key for l in chunk}) == 1:
                tags["partition_key"] = chunk[0].context.partition_key
            requests.append(dg.RunRequest(
                run_key=batch_run_key(chunk), job_name=BATCH_JOB, tags=tags,
                run_config={"ops": {"plan_feeds": {"config": {"feeds": [feed_config(l) for l in chunk]}}}},
            ))
    return requests


def feeds_of(request: dg.RunRequest) -> list[dict]:
    """The per-file configs of a ``validate_feeds`` run request."""
    return list(request.run_config["ops"]["plan_feeds"]["config"]["feeds"])


def ran_alone(instance: dg.DagsterInstance, sensor_name: str, launches: list[Launch]) -> set[str]:
    """File run keys that already ran as their own run of this sensor (``make demo``, or a run
    per file before batches): such a version never runs again."""
    keys = [l.file.run_key for l in launches]
    if not keys:
        return set()
    runs = instance.get_runs(filters=dg.RunsFilter(tags={RUN_KEY_TAG: keys, SENSOR_NAME_TAG: sensor_name}))
    return {r.tags.get(RUN_KEY_TAG) for r in runs} & set(keys)


def launchable(context: dg.SensorEvaluationContext, sensor_name: str, launches: list[Launch]) -> list[Launch]:
    done = ran_alone(context.instance, sensor_name, launches)
    if done:
        context.log.info(f"{len(done)} file version(s) already validated by their own run; not run again")
    return [l for l in launches if l.file.run_key not in done]


def job_config(job: ValidationJob) -> dict:
    """One queued job as a ``validate_feeds`` file entry (the job keeps its id and queue time)."""
    ctx = job.context
    config = {"path": job.feed_uri, "marketplace": ctx.marketplace, "category": ctx.category,
              "region": ctx.region, "tier": ctx.tier.value, "job_id": str(job.job_id),
              "enqueued_at": job.enqueued_at.isoformat()}
    if ctx.ruleset:
        config["ruleset"] = ctx.ruleset
    return config


def jobs_run_key(jobs: list[ValidationJob]) -> str:
    """Content-addressed from the jobs' ids: the same jobs make the same key."""
    return hashlib.sha256("|".join(sorted(str(j.job_id) for j in jobs)).encode()).hexdigest()[:32]


def job_batch_requests(jobs: list[ValidationJob], *, source: str, max_jobs_per_run: int) -> list[dg.RunRequest]:
    """Queued jobs (not files) as ``validate_feeds`` runs: one batch per tier, pro first, in the
    order given, chunked to ``max_jobs_per_run``; tags as :func:`batch_requests`."""
    groups: dict[str, list[ValidationJob]] = {}
    for job in sorted(jobs, key=lambda j: j.context.tier.value != "pro"):
        groups.setdefault(job.context.tier.value, []).append(job)
    size = max(1, max_jobs_per_run)
    requests = []
    for tier, group in groups.items():
        for start in range(0, len(group), size):
            chunk = group[start:start + size]
            tags = {"tier": tier, "source": source, "files": str(len(chunk)),
                    "dagster/priority": PRIORITY.get(tier, "0")}
            for name, values in (("marketplace", {j.context.marketplace for j in chunk}),
                                 ("partition_key", {j.partition_key for j in chunk})):
                if len(values) == 1:
                    tags[name] = values.pop()
            requests.append(dg.RunRequest(
                run_key=jobs_run_key(chunk), job_name=BATCH_JOB, tags=tags,
                run_config={"ops": {"plan_feeds": {"config": {"feeds": [job_config(j) for j in chunk]}}}},
            ))
    return requests
