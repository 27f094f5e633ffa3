"""``sqs_jobs_sensor``: one ``validate_feed`` run per job message on the SQS tier queues.

A message is deleted only after its run is recorded, pro is received before free, and only the
job queues are read: ``feed.validated`` outcomes go to their own queues, never to this sensor.
"""

import json
import time

import dagster as dg

from jobs_pipeline.defs.resources.queue import SQSQueueResource
from jobs_pipeline.defs.feeds.validate_feed import validate_feed
from jobs_pipeline.domain.model import ValidationJob
from jobs_pipeline.queue.sqs_receiver import ReceivedMessage, delete, receive

SENSOR_NAME = "sqs_jobs_sensor"
RUN_KEY_TAG = "dagster/run_key"
SENSOR_NAME_TAG = "dagster/sensor_name"


def run_request_for(job: ValidationJob) -> dg.RunRequest:
    ctx = job.context
    config = {"path": job.feed_uri, "marketplace": ctx.marketplace, "category": ctx.category,
              "region": ctx.region, "tier": ctx.tier.value, "job_id": str(job.job_id),
              "enqueued_at": job.enqueued_at.isoformat()}
    if ctx.ruleset:
        config["ruleset"] = ctx.ruleset
    return dg.RunRequest(
        run_key=str(job.job_id),
        run_config={"ops": {"describe_feed": {"config": config}}},
        tags={"tier": ctx.tier.value, "marketplace": ctx.marketplace, "partition_key": ctx.partition_key,
              "source": "sqs"},
    )


def recorded_run_keys(instance: dg.DagsterInstance, run_keys: list[str]) -> set[str]:
    """The run keys among ``run_keys`` for which this sensor's run exists in the instance."""
    if not run_keys:
        return set()
    runs = instance.get_runs(filters=dg.RunsFilter(tags={RUN_KEY_TAG: run_keys, SENSOR_NAME_TAG: SENSOR_NAME}))
    return {r.tags.get(RUN_KEY_TAG) for r in runs} & set(run_keys)


def _load_cursor(cursor: str | None) -> list[dict]:
    if not cursor:
        return []
    try:
        return list(json.loads(cursor).get("pending", []))
    except (ValueError, AttributeError):
        return []


@dg.sensor(job=validate_feed, name=SENSOR_NAME, minimum_interval_seconds=30,
           default_status=dg.DefaultSensorStatus.RUNNING,
           description="Launch validate_feed for each job message on the SQS pro and free queues.")
def sqs_jobs_sensor(context: dg.SensorEvaluationContext, sqs_jobs: SQSQueueResource) -> dg.SensorResult:
    """Each tick (bounded by ``max_messages_per_tick``):

    1. **Delete what is safe to delete.** The cursor holds the receipt handles of messages whose
       run was requested on an earlier tick. A message is deleted only once a run with its
       ``run_key`` (= ``job_id``) exists in the instance: the run request was recorded. If a tick
       failed before Dagster recorded it, the message is not deleted; it reappears after its
       visibility timeout and is requested again (Dagster drops a duplicate ``run_key``).
    2. **Receive, pro before free.** The pro queue is read first; the free queue gets what is left
       of the tick's budget. Received messages stay invisible for ``visibility_timeout_s``.
    3. **One run request per job**, ``run_key = job_id``, tags ``tier`` and ``marketplace``. A message
       whose job already has a run (a redelivery) is just deleted.
    4. **A message that cannot be parsed is reported and left alone**: it becomes visible again
       and, after ``maxReceiveCount`` receives, the queue's redrive policy moves it to the DLQ.
    """
    if not sqs_jobs.consume_jobs:
        return dg.SensorResult(skip_reason="SQS is not a job backend here (QUEUE_BACKEND / QUEUE_ROLLOUT_BACKEND)",
                               cursor=context.cursor)
    client = sqs_jobs.get_client()
    now = time.time()

    # 1. delete the messages whose runs are recorded; forget handles past their visibility timeout
    pending = [p for p in _load_cursor(context.cursor) if now - p.get("at", now) < sqs_jobs.visibility_timeout_s]
    done = recorded_run_keys(context.instance, [p["job_id"] for p in pending])
    _delete(context, client, [p for p in pending if p["job_id"] in done])
    pending = [p for p in pending if p["job_id"] not in done]

    # 2. receive, pro first, within the tick's budget
    budget = max(0, sqs_jobs.max_messages_per_tick - len(pending))
    received: list[ReceivedMessage] = []
    for url in (sqs_jobs.queue_url_pro, sqs_jobs.queue_url_free):
        if budget - len(received) <= 0:
            break
        received += receive(client, url, max_messages=budget - len(received),
                            visibility_timeout_s=sqs_jobs.visibility_timeout_s)

    # 3. one run request per parsable job
    jobs: list[tuple[ReceivedMessage, ValidationJob]] = []
    for message in received:
        try:
            jobs.append((message, message.job()))
        except ValueError as exc:
            context.log.error(
                f"SQS message {message.sqs_message_id} on {message.queue_url} is not a job ({exc}); "
                f"left for the dead-letter policy (received {message.receive_count} time(s))")
    already = recorded_run_keys(context.instance, [str(job.job_id) for _, job in jobs])
    redelivered = [{"job_id": str(j.job_id), "queue_url": m.queue_url, "handle": m.receipt_handle}
                   for m, j in jobs if str(j.job_id) in already]
    _delete(context, client, redelivered)

    requests: list[dg.RunRequest] = []
    requested = {p["job_id"] for p in pending}
    for message, job in jobs:
        key = str(job.job_id)
        if key in already:
            continue
        if key not in requested:  # copies of one job (a re-publish) get one request...
            requests.append(run_request_for(job))
            requested.add(key)
        # ...and every copy's handle waits for that run, to be deleted with it
        pending.append({"job_id": key, "queue_url": message.queue_url, "handle": message.receipt_handle, "at": now})
    cursor = json.dumps({"pending": pending}, separators=(",", ":"))
    if not requests:
        return dg.SensorResult(skip_reason="no new job messages", cursor=cursor)
    return dg.SensorResult(run_requests=requests, cursor=cursor)


def _delete(context: dg.SensorEvaluationContext, client: object, entries: list[dict]) -> None:
    by_queue: dict[str, list[str]] = {}
    for e in entries:
        by_queue.setdefault(e["queue_url"], []).append(e["handle"])
    for url, handles in by_queue.items():
        failed = delete(client, url, handles)
        if failed:  # the message comes back; its run exists, so the next receive deletes it
            context.log.warning(f"{len(failed)} SQS message(s) on {url} not deleted; will retry")
    if entries:
        context.log.info(f"deleted {len(entries)} SQS message(s) whose runs are recorded")
