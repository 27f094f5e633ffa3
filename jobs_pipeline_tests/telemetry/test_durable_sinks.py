"""A durable sink (lake, DuckDB, memory) that cannot write fails the composite's flush, and so
the job's run: a job whose events are lost is never reported completed."""

import threading

import pytest

from jobs_pipeline.demo.samples import DEMO_FEEDS, write_sample
from jobs_pipeline.domain.errors import TelemetryDeliveryError
from jobs_pipeline.domain.model import JobContext
from jobs_pipeline.domain.retry import ExponentialRetryPolicy, JobRetryRequested
from jobs_pipeline.domain.transient import ErrorClass, classify
from jobs_pipeline.jobs.service import JobService
from jobs_pipeline.queue.memory import InMemoryQueuePublisher
from jobs_pipeline.telemetry.composite import CompositeTelemetryEmitter
from jobs_pipeline.telemetry.factory import build_emitter
from jobs_pipeline.telemetry.lake import PART_GLOB, LakeTelemetryEmitter
from jobs_pipeline.telemetry.log import LogTelemetryEmitter
from jobs_pipeline.telemetry.memory import InMemoryTelemetryEmitter
from jobs_pipeline_tests.telemetry.events_factory import stream


class FailingEmits(InMemoryTelemetryEmitter):
    """A durable sink whose writes fail while ``broken`` (a full disk: ENOSPC, permanent)."""

    def __init__(self) -> None:
        super().__init__()
        self.broken = True

    def emit(self, event) -> None:
        if self.broken:
            raise OSError(28, "No space left on device")
        super().emit(event)


class HangingFlush(InMemoryTelemetryEmitter):
    """A durable sink whose flush hangs until the test releases it."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def flush(self) -> None:
        self.release.wait()


def _file_in_the_way(tmp_path):
    lake = tmp_path / "lake"
    lake.write_text("not a directory\n")  # root can write anywhere: chmod would not stop it
    return lake


def _job(service, tmp_path):
    feed = write_sample(tmp_path / "feeds", DEMO_FEEDS[0])
    return service.create_job(feed, JobContext(marketplace="google_merchant", category="electronics", region="BR"))


# -- the composite ---------------------------------------------------------------------------


def test_a_durable_sink_that_lost_events_fails_the_flush_naming_it_and_the_count():
    failing, memory = FailingEmits(), InMemoryTelemetryEmitter()
    composite = CompositeTelemetryEmitter([failing, memory])
    events = stream(4)
    for event in events:
        composite.emit(event)
    with pytest.raises(TelemetryDeliveryError) as err:
        composite.flush()
    n = len(events)
    assert err.value.sink == "FailingEmits" and err.value.failed_events == n and not err.value.timed_out
    assert "FailingEmits" in str(err.value) and f"{n} event(s)" in str(err.value)
    assert isinstance(err.value.__cause__, OSError)
    assert classify(err.value).kind is ErrorClass.TRANSIENT  # the job's retry policy may retry it
    assert len(memory.events) == n  # the other sink is unaffected

    failing.broken = False  # the disk has room again: the next flush is clean
    more = stream(2, tag="more")
    for event in more:
        composite.emit(event)
    composite.flush()
    assert len(failing.events) == len(more)
    composite.close()


def test_a_durable_sink_that_does_not_flush_in_time_fails_the_flush():
    hanging = HangingFlush()
    composite = CompositeTelemetryEmitter([LogTelemetryEmitter(), hanging], flush_timeout_s=0.2)
    events = stream(3)
    for event in events:
        composite.emit(event)
    with pytest.raises(TelemetryDeliveryError) as err:
        composite.flush()
    assert err.value.sink == "HangingFlush" and err.value.timed_out and err.value.failed_events == len(events)
    hanging.release.set()
    composite.close()


def test_best_effort_sinks_never_fail_the_flush():
    class BestEffort(FailingEmits):
        wait_on_flush = False

    sink = BestEffort()
    composite = CompositeTelemetryEmitter([LogTelemetryEmitter(), sink])
    events = stream(3)
    for event in events:
        composite.emit(event)
    composite.flush()  # no raise
    composite.close()
    assert composite.failures == {"BestEffort": len(events)}


# -- through JobService, with the default sinks ``log,lake`` -------------------------------------


def test_an_unwritable_lake_fails_the_run_instead_of_completing(tmp_path, caplog):
    lake = _file_in_the_way(tmp_path)
    emitter = build_emitter(["log", "lake"], lake_dir=lake)  # TELEMETRY_SINKS' default
    assert isinstance(emitter, CompositeTelemetryEmitter)
    assert [type(e) for e in emitter.emitters] == [LogTelemetryEmitter, LakeTelemetryEmitter]
    service = JobService(InMemoryQueuePublisher(), emitter)

    with pytest.raises(TelemetryDeliveryError) as err:
        service.run(_job(service, tmp_path))
    assert err.value.sink == "LakeTelemetryEmitter" and err.value.failed_events >= 2  # started, completed
    assert lake.is_file() and list(tmp_path.glob(PART_GLOB)) == []
    assert "not durable" in caplog.text
    emitter.close()


def test_an_unwritable_lake_is_retried_by_the_jobs_retry_policy(tmp_path):
    lake = _file_in_the_way(tmp_path)
    composite = CompositeTelemetryEmitter([LogTelemetryEmitter(), LakeTelemetryEmitter(lake)])
    policy = ExponentialRetryPolicy(max_attempts=2, base_s=0.001, throttle_base_s=0.001, cap_s=0.01)
    service = JobService(InMemoryQueuePublisher(), composite, retry_policy=policy)
    job = _job(service, tmp_path)

    with pytest.raises(JobRetryRequested) as first:
        service.run(job, attempt=1)
    assert isinstance(first.value.cause, TelemetryDeliveryError)
    assert first.value.decision.classification == "transient"

    lake.unlink()  # the operator frees the path: the retry's events are durable
    outcome = service.run(job, attempt=2)
    assert outcome.ok
    assert len(list(lake.glob(PART_GLOB))) >= 1
    composite.close()


def test_a_lake_file_that_cannot_be_published_does_not_poison_later_flushes(tmp_path, monkeypatch):
    import jobs_pipeline.telemetry.lake as lake_module

    lake = LakeTelemetryEmitter(tmp_path / "lake", fsync=True)
    first, second = stream(1), stream(1, tag="second")
    for event in first:
        lake.emit(event)
    real_fsync = lake_module.os.fsync

    def full_disk(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(lake_module.os, "fsync", full_disk)
    with pytest.raises(OSError):
        lake.flush()
    monkeypatch.setattr(lake_module.os, "fsync", real_fsync)
    # the failed file was cut back to its durable length (empty: removed), none of it visible
    assert list((tmp_path / "lake").glob(PART_GLOB)) == []
    for event in second:  # a fresh file, not the abandoned one
        lake.emit(event)
    lake.flush()
    [part] = list((tmp_path / "lake").glob(PART_GLOB))
    assert len(part.read_text().splitlines()) == len(second)
