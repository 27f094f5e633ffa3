"""The ``dagster dev`` harness reads the event lake as ingestion does, by offset: a file polled
while still empty (created, not yet written) or still being appended to yields its events at a
later poll. Reading each file once lost a run's events, and the daemon test waited out its
deadline at 29 of 30 feeds."""

from jobs_pipeline.telemetry.lake import LakeTelemetryEmitter
from jobs_pipeline_tests.defs.dev_server import DagsterDev
from jobs_pipeline_tests.telemetry.events_factory import job_events


def test_a_lake_file_polled_while_empty_yields_its_events_later(tmp_path):
    dev = DagsterDev(tmp_path / "home", tmp_path / "data", port=0)
    events = job_events(3)
    part = tmp_path / "data" / "lake" / "date=2026-11-29" / "part-host-1-x-000000.jsonl"
    part.parent.mkdir(parents=True)
    part.touch()  # the writer has created the file and is fsyncing its folder
    assert dev.poll_events() == []

    emitter = LakeTelemetryEmitter(tmp_path / "other", fsync=False)
    for event in events:
        emitter.emit(event)
    emitter.close()
    part.write_bytes(next((tmp_path / "other").glob("date=*/part-*.jsonl")).read_bytes())
    assert [e["type"] for e in dev.terminal()[str(events[-1].job_id)]] == ["job.completed"]


def test_a_lake_file_appended_between_polls_yields_its_completion(tmp_path):
    dev = DagsterDev(tmp_path / "home", tmp_path / "data", port=0)
    started, progress, completed = job_events(1)
    emitter = LakeTelemetryEmitter(tmp_path / "data" / "lake", fsync=False)
    emitter.emit(started)
    emitter.flush()
    assert dev.terminal() == {}

    emitter.emit(progress)
    emitter.emit(completed)
    emitter.flush()  # the same file, appended to
    assert len(list((tmp_path / "data" / "lake").glob("date=*/part-*.jsonl"))) == 1
    assert [e["type"] for e in dev.terminal()[str(completed.job_id)]] == ["job.completed"]
    assert [e["type"] for e in dev.events] == ["job.started", "job.progress", "job.completed"]
    emitter.close()


def test_a_half_written_line_is_read_once_it_is_whole(tmp_path):
    dev = DagsterDev(tmp_path / "home", tmp_path / "data", port=0)
    started, _, completed = job_events(2)
    emitter = LakeTelemetryEmitter(tmp_path / "data" / "lake", fsync=False)
    emitter.emit(started)
    emitter.emit(completed)
    emitter.flush()
    emitter.close()
    part = next((tmp_path / "data" / "lake").glob("date=*/part-*.jsonl"))
    whole = part.read_bytes()
    cut = whole.index(b"\n") + 1 + 20
    part.write_bytes(whole[:cut])  # the writer is mid-way through the second line
    assert [e["type"] for e in dev.poll_events()] == ["job.started"]

    part.write_bytes(whole)
    assert [e["type"] for e in dev.poll_events()] == ["job.completed"]
    assert list(dev.terminal()) == [str(completed.job_id)]
