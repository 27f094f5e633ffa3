"""``sqs_jobs_sensor``: the job messages on the SQS tier queues as ``validate_feeds`` batches.

A message is deleted only after the run holding its job is recorded, pro is received before
free, and only the job queues are read: ``feed.validated`` outcomes go to their own queues,
never to this sensor.
"""

import json
import time

import dagster as dg

from jobs_pipeline.defs.feeds.batches import RUN_KEY_TAG, SENSOR_NAME_TAG, feeds_of, job_batch_requests
from jobs_pipeline.defs.feeds.validate_feeds import validate_feeds
from jobs_pipeline.defs.resources.queue import SQSQueueResource
from jobs_pipeline.domain.model import ValidationJob
from jobs_pipeline.queue.sqs_receiver import ReceivedMessage, delete, receive

SENSOR_NAME = "sqs_jobs_sensor"
MAX_JOBS_PER_RUN = 100  # a tick holds at most max_messages_per_tick jobs anyway
INTERVAL_S = 5  # as the landing sensors: a burst drains in a few ticks, a lone job waits seconds
MAX_LAUNCHED = 1000  # recently launched job ids kept in the cursor (redeliveries are skipped)


def recorded_run_keys(instance: dg.DagsterInstance, run_keys: list[str]) -> set[str]:
    """The run keys among ``run_keys`` for which this sensor's run exists in the instance."""
    if not run_keys:
        return set()
    runs = instance.get_runs(filters=dg.RunsFilter(tags={RUN_KEY_TAG: run_keys, SENSOR_NAME_TAG: SENSOR_NAME}))
    return {r.tags.get(RUN_KEY_TAG) for r in runs} & set(run_keys)


def _load_cursor(cursor: str | None) -> tuple[list[dict], dict[str, str]]:
    """``pending``: batches requested, not yet seen recorded (run key, time, message handles);
    ``launched``: job id -> run key of its batch, most recent last."""
    if not cursor:
        return [], {}
    try:
        raw = json.loads(cursor)
        pending = [p for p in raw.get("pending", []) if "run_key" in p]  # older cursors: one entry per job
        return pending, dict(raw.get("launched", {}))
    except (ValueError, AttributeError, TypeError):
        return [], {}


def _handle(message: ReceivedMessage) -> dict:
    return {"queue_url": message.queue_url, "handle": message.receipt_handle}


@dg.sensor(jobs=[validate_feeds], name=SENSOR_NAME, minimum_interval_seconds=INTERVAL_S,
           default_status=dg.DefaultSensorStatus.RUNNING,
           description="Launch validate_feeds batches for the job messages on the SQS pro and free queues.")
def sqs_jobs_sensor(context: dg.SensorEvaluationContext, sqs_jobs: SQSQueueResource) -> dg.SensorResult:
    """Each tick (bounded by ``max_messages_per_tick``):

    1. **Delete what is safe to delete.** The cursor holds, per batch requested on an earlier
       tick, its ``run_key`` and its messages' receipt handles. They are deleted only once a run
       with that ``run_key`` exists in the instance: the run request was recorded. Otherwise the
       messages reappear after their visibility timeout and are requested again.
    2. **Receive, pro before free.** The pro queue is read first; the free queue gets what is left
       of the tick's budget. Received messages stay invisible for ``visibility_timeout_s``.
    3. **One ``validate_feeds`` run per tier** (pro first, at most ``MAX_JOBS_PER_RUN`` jobs), one
       step per job with the message's ``job_id``; ``run_key`` digests the batch's job ids; tags
       ``tier``, ``dagster/priority`` and ``marketplace`` when the batch has one.
    4. **Redeliveries.** The cursor keeps the last ``MAX_LAUNCHED`` launched job ids with their
       batch's run key: a copy of such a job waits for that batch (or is deleted if it is
       recorded) instead of running again; so is a job with its own run (run key = job id).
    5. **A message that cannot be parsed is reported and left alone**: it becomes visible again
       and, after ``maxReceiveCount`` receives, the queue's redrive policy moves it to the DLQ.
    """
    if not sqs_jobs.consume_jobs:
        return dg.SensorResult(skip_reason="SQS is not a job backend here (QUEUE_BACKEND / QUEUE_ROLLOUT_BACKEND)",
                               cursor=context.cursor)
    client = sqs_jobs.get_client()
    now = time.time()

    # 1. delete the messages whose batch runs are recorded; forget batches past their visibility timeout
    pending, launched = _load_cursor(context.cursor)
    pending = [p for p in pending if now - p.get("at", now) < sqs_jobs.visibility_timeout_s]
    done = recorded_run_keys(context.instance, [p["run_key"] for p in pending])
    _delete(context, client, [m for p in pending if p["run_key"] in done for m in p["messages"]])
    pending = [p for p in pending if p["run_key"] not in done]

    # 2. receive, pro first, within the tick's budget
    budget = max(0, sqs_jobs.max_messages_per_tick - sum(len(p["messages"]) for p in pending))
    received: list[ReceivedMessage] = []
    for url in (sqs_jobs.queue_url_pro, sqs_jobs.queue_url_free):
        if budget - len(received) <= 0:
            break
        received += receive(client, url, max_messages=budget - len(received),
                            visibility_timeout_s=sqs_jobs.visibility_timeout_s)

    # 3. parse; an unparsable message is left for the dead-letter policy
    jobs: list[tuple[ReceivedMessage, ValidationJob]] = []
    for message in received:
        try:
            jobs.append((message, message.job()))
        except ValueError as exc:
            context.log.error(
                f"SQS message {message.sqs_message_id} on {message.queue_url} is not a job ({exc}); "
                f"left for the dead-letter policy (received {message.receive_count} time(s))")

    # 4. redeliveries: a job with its own run, or whose batch is recorded, is deleted; one whose
    #    batch is pending waits for it; the others (and a batch that expired unrecorded) run
    by_key = {p["run_key"]: p for p in pending}
    ids = [str(job.job_id) for _, job in jobs]
    recorded = done | recorded_run_keys(
        context.instance, ids + [launched[i] for i in ids if i in launched and launched[i] not in by_key])
    fresh: dict[str, ValidationJob] = {}
    waiting: dict[str, list[dict]] = {}
    redelivered: list[dict] = []
    for message, job in jobs:
        key = str(job.job_id)
        batch = launched.get(key)
        if key in recorded or batch in recorded:
            redelivered.append(_handle(message))
        elif batch in by_key:
            by_key[batch]["messages"].append(_handle(message))
        else:  # copies of one job (a re-publish) get one step, and every copy waits for its run
            fresh.setdefault(key, job)
            waiting.setdefault(key, []).append(_handle(message))
    if redelivered:
        context.log.info(f"{len(redelivered)} redelivered message(s) of jobs already run")
    _delete(context, client, redelivered)

    # 5. one validate_feeds run per tier; each batch waits in the cursor for its run
    requests = job_batch_requests(list(fresh.values()), source="sqs", max_jobs_per_run=MAX_JOBS_PER_RUN)
    for request in requests:
        batch_ids = [feed["job_id"] for feed in feeds_of(request)]
        pending.append({"run_key": request.run_key, "at": now,
                        "messages": [h for i in batch_ids for h in waiting[i]]})
        for i in batch_ids:
            launched.pop(i, None)
            launched[i] = request.run_key
    launched = dict(list(launched.items())[-MAX_LAUNCHED:])
    cursor = json.dumps({"pending": pending, "launched": launched}, separators=(",", ":"))
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
