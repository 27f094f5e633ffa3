"""JobService with the in-memory publisher and emitter: submit routing, run events, failures."""

from pathlib import Path

import pytest

from jobs_pipeline.domain.model import JobContext
from jobs_pipeline.jobs.service import JobService
from jobs_pipeline.queue.memory import InMemoryQueuePublisher
from jobs_pipeline.queue.publisher import VALIDATE_FEED_TASK
from jobs_pipeline.demo.samples import DEMO_FEEDS, write_sample
from jobs_pipeline.telemetry.events import EventType
from jobs_pipeline.telemetry.memory import InMemoryTelemetryEmitter
from jobs_pipeline.validation.ruleset import ruleset_for


@pytest.fixture
def service():
    return JobService(InMemoryQueuePublisher(), InMemoryTelemetryEmitter(), progress_every=250)


@pytest.fixture
def feed(tmp_path: Path) -> tuple[Path, object]:
    spec = DEMO_FEEDS[0]  # google_merchant electronics BR, 1200 rows, 120 bad
    return write_sample(tmp_path, spec), spec


def test_submit_publishes_to_the_tier_queue(service):
    job, receipt = service.submit("/x.csv", JobContext(marketplace="amazon", tier="pro"))
    assert receipt.queue == "pro" and receipt.message_id == str(job.job_id)
    [message] = service.publisher.messages("pro")
    assert message.task == VALIDATE_FEED_TASK and message.body["job_id"] == str(job.job_id)
    assert service.publisher.messages("free") == []


def test_run_emits_started_progress_completed_with_metrics(service, feed):
    path, spec = feed
    job = service.create_job(path, JobContext(marketplace=spec.marketplace, category=spec.category,
                                              region=spec.region))
    outcome = service.run(job)
    assert outcome.ok and outcome.metrics.records_total == spec.rows
    assert outcome.metrics.records_error == spec.expected_errors
    latest = ruleset_for(spec.marketplace, category=spec.category, region=spec.region).ref
    assert outcome.metrics.ruleset == latest and latest.startswith("google_merchant@")
    types = service.emitter.types()
    assert types[0] == "job.started" and types[-1] == "job.completed"
    progress = service.emitter.of_type(EventType.PROGRESS)
    # at least one progress event every 250 records on a 1200-record file
    assert [e.metrics["records_processed"] for e in progress] == [250, 500, 750, 1000]
    assert [e.sequence for e in service.emitter.events] == list(range(len(types)))
    completed = service.emitter.of_type(EventType.COMPLETED)[0]
    assert completed.metrics["records_error"] == spec.expected_errors
    assert completed.metrics["error_rate"] == pytest.approx(spec.expected_errors / spec.rows)


def test_running_the_same_job_again_re_emits_the_same_event_ids(service, feed):
    path, spec = feed
    job = service.create_job(path, JobContext(marketplace=spec.marketplace))
    service.run(job)
    first = [e.event_id for e in service.emitter.events]
    service.run(job)
    second = [e.event_id for e in service.emitter.events][len(first):]
    assert first == second


@pytest.mark.parametrize("content,error_type", [(None, "FeedNotFoundError"), (b"", "FeedFormatError")])
def test_unusable_feed_is_a_failed_outcome_with_one_job_failed(service, tmp_path, content, error_type):
    path = tmp_path / "feed.csv"
    if content is not None:
        path.write_bytes(content)
    outcome = service.run(service.create_job(path, JobContext(marketplace="google_merchant")))
    assert outcome.status == "failed" and outcome.error.error_type == error_type
    assert service.emitter.types() == ["job.started", "job.failed"]
    failed = service.emitter.of_type("job.failed")[0]
    assert failed.error.classification == "permanent" and failed.error.message


def test_unknown_marketplace_fails_with_a_clear_reason(service, feed):
    path, _ = feed
    outcome = service.run(service.create_job(path, JobContext(marketplace="nowhere")))
    assert outcome.error.error_type == "RulesetError" and "nowhere" in outcome.error.message


def test_an_unexpected_bug_still_ends_in_job_failed(feed):
    def broken_validator(*args, **kwargs):
        raise ZeroDivisionError("boom")

    emitter = InMemoryTelemetryEmitter()
    service = JobService(InMemoryQueuePublisher(), emitter, validator=broken_validator)
    path, spec = feed
    outcome = service.run(service.create_job(path, JobContext(marketplace=spec.marketplace)))
    assert outcome.status == "failed" and outcome.error.error_type == "ZeroDivisionError"
    assert emitter.types() == ["job.started", "job.failed"]


class _FlakySink:
    """A sink whose emit of some event types, or whose flush, raises (a broken destination)."""

    def __init__(self, fail_types=(), fail_flush=False):
        self.fail_types, self.fail_flush, self.events = set(fail_types), fail_flush, []

    def emit(self, event):
        if event.type.value in self.fail_types:
            raise OSError(28, "No space left on device")
        self.events.append(event)

    def flush(self):
        if self.fail_flush:
            raise OSError(28, "No space left on device")

    def close(self):
        pass


class _AlwaysRetry:
    def decide(self, exc, attempt):
        from jobs_pipeline.domain.retry import RetryDecision

        return RetryDecision(retry=True, delay_s=0.0, classification="transient", max_attempts=3)


@pytest.mark.parametrize("sink", [_FlakySink(fail_types={"job.retrying"}), _FlakySink(fail_flush=True)])
def test_a_broken_sink_never_turns_a_retry_into_a_lost_job(feed, sink):
    from jobs_pipeline.domain.retry import JobRetryRequested

    def refused(*args, **kwargs):
        raise ConnectionRefusedError(111, "Connection refused")

    service = JobService(InMemoryQueuePublisher(), sink, validator=refused, retry_policy=_AlwaysRetry())
    path, spec = feed
    with pytest.raises(JobRetryRequested):
        service.run(service.create_job(path, JobContext(marketplace=spec.marketplace)))


def test_events_that_cannot_be_made_durable_fail_the_run_loudly(feed):
    service = JobService(InMemoryQueuePublisher(), _FlakySink(fail_flush=True))
    path, spec = feed
    with pytest.raises(OSError):
        service.run(service.create_job(path, JobContext(marketplace=spec.marketplace)))
