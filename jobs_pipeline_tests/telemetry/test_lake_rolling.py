"""The lake emitter appends: one file per writer and UTC day, each flush durable (fsync) and
visible, a forked child never sharing its parent's file, replay reading whole lines only."""

import os
from datetime import date, timedelta

import jobs_pipeline.telemetry.lake as lake_module
from jobs_pipeline.telemetry.lake import PART_GLOB, LakeTelemetryEmitter, lake_line
from jobs_pipeline.telemetry.replay import ReplayStats, lake_events, lake_files
from jobs_pipeline_tests.telemetry.events_factory import job_events


def lines(path) -> list[str]:
    return path.read_text().splitlines()


def test_one_file_per_writer_and_day_however_many_flushes(tmp_path):
    emitter = LakeTelemetryEmitter(tmp_path, fsync=False)
    expected: dict[str, int] = {}
    for i in range(20):
        for e in job_events(i, "roll"):
            shifted = e.model_copy(update={"timestamp": e.timestamp + timedelta(days=i % 2)})
            emitter.emit(shifted)
            day = f"{shifted.timestamp:%Y-%m-%d}"
            expected[day] = expected.get(day, 0) + 1
        emitter.flush()  # as JobService, after every job
    parts = sorted(tmp_path.glob(PART_GLOB))
    assert [p.parent.name for p in parts] == [f"date={d}" for d in sorted(expected)]
    assert [len(lines(p)) for p in parts] == [expected[d] for d in sorted(expected)]
    assert all(emitter.writer_id in p.name for p in parts)
    emitter.close()


def test_flush_fsyncs_the_file_it_wrote_and_returns_with_the_lines_visible(tmp_path, monkeypatch):
    synced: list[str] = []
    real = lake_module.os.fsync

    def recording_fsync(fd):
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    monkeypatch.setattr(lake_module.os, "fsync", recording_fsync)
    emitter = LakeTelemetryEmitter(tmp_path)  # fsync=True, the default
    events = job_events(1, "sync")
    for e in events:
        emitter.emit(e)
    assert list(tmp_path.glob("date=*/*")) == [] and synced == []  # buffered until the flush
    emitter.flush()
    [part] = tmp_path.glob(PART_GLOB)
    assert str(part) in synced  # the file itself (and, once, its new folder entry)
    assert lines(part) == [lake_line(e, emitter.source) for e in events]
    synced.clear()
    emitter.flush()  # nothing buffered: nothing written
    assert synced == []
    emitter.close()


def test_a_file_rolls_over_past_its_size_limit(tmp_path):
    emitter = LakeTelemetryEmitter(tmp_path, fsync=False, max_file_bytes=2_000)
    for i in range(12):
        for e in job_events(i, "big"):
            emitter.emit(e)
        emitter.flush()
    parts = sorted(tmp_path.glob(PART_GLOB))
    assert len(parts) > 1
    assert all(p.stat().st_size < 2_000 + 4_000 for p in parts)  # one flush past the limit at most
    assert sum(len(lines(p)) for p in parts) == sum(len(job_events(i, "big")) for i in range(12))
    emitter.close()


def test_a_forked_child_writes_its_own_file(tmp_path):
    emitter = LakeTelemetryEmitter(tmp_path, fsync=False)
    parent_events, child_events = job_events(1, "parent"), job_events(2, "child")
    for e in parent_events:
        emitter.emit(e)
    emitter.flush()  # the parent's file is open when it forks
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            for e in child_events:
                emitter.emit(e)
            emitter.flush()
        finally:
            os._exit(0)
    assert os.waitpid(pid, 0)[1] == 0
    parts = sorted(tmp_path.glob(PART_GLOB))
    assert len(parts) == 2
    by_count = sorted(len(lines(p)) for p in parts)
    assert by_count == sorted([len(parent_events), len(child_events)])
    mine = [p for p in parts if emitter.writer_id in p.name]
    assert len(mine) == 1 and len(lines(mine[0])) == len(parent_events)
    emitter.close()


def test_replay_reads_whole_lines_of_a_file_being_written(tmp_path):
    emitter = LakeTelemetryEmitter(tmp_path, fsync=False)
    events = job_events(3, "replay")
    for e in events:
        emitter.emit(e)
    emitter.flush()
    [part] = tmp_path.glob(PART_GLOB)
    with part.open("ab") as fh:  # the next line, half written
        fh.write(lake_line(job_events(4, "replay")[0], "urn:x").encode()[:50])
    stats = ReplayStats()
    day = events[0].timestamp.date()
    read = list(lake_events(lake_files(tmp_path, day, day), stats))
    assert [e.event_id for _, e in read] == [e.event_id for e in events]
    assert stats.files == 1 and lake_files(tmp_path, date(2000, 1, 1), day - timedelta(days=1)) == []
    emitter.close()
