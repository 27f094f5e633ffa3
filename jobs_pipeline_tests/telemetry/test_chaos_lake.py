"""Chaos: 1,000 jobs emitted at once by several real processes into the lake, some jobs
delivered twice (a redelivered queue message runs again in another process), while the
ingestion runs concurrently. ``job_events`` must hold exactly their events, once; ingesting
again, or re-reading a copied file, changes nothing."""

import multiprocessing as mp
import shutil
from pathlib import Path

from jobs_pipeline.telemetry.lake import PART_GLOB
from jobs_pipeline.warehouse.connection import connect, scalar
from jobs_pipeline.warehouse.events import duplicate_event_ids, ingest_lake
from jobs_pipeline.warehouse.tables import build_job_runs
from jobs_pipeline_tests.telemetry.events_factory import job_events

JOBS = 1_000
PROCESSES = 4


def _jobs_of(worker: int) -> list[int]:
    mine = [i for i in range(JOBS) if i % PROCESSES == worker]
    redelivered = [i for i in range(JOBS) if i % 25 == 0 and i % PROCESSES == (worker + 1) % PROCESSES]
    return mine + redelivered


def _worker(lake: str, worker: int, start: "mp.synchronize.Event") -> None:
    from jobs_pipeline.telemetry.lake import LakeTelemetryEmitter

    emitter = LakeTelemetryEmitter(lake, fsync=False)
    start.wait()
    for i in _jobs_of(worker):
        for event in job_events(i, "chaos"):
            emitter.emit(event)
        emitter.flush()  # JobService flushes at the end of every job
    emitter.close()


def test_many_processes_one_lake_exactly_once(tmp_path: Path):
    lake, db = tmp_path / "lake", tmp_path / "q.duckdb"
    expected = {str(e.event_id) for i in range(JOBS) for e in job_events(i, "chaos")}
    ctx = mp.get_context("spawn")
    start = ctx.Event()
    procs = [ctx.Process(target=_worker, args=(str(lake), w, start)) for w in range(PROCESSES)]
    for p in procs:
        p.start()
    start.set()
    rounds = 0
    with connect(db) as con:
        while any(p.is_alive() for p in procs):  # ingest while the writers write
            ingest_lake(con, lake)
            rounds += 1
        for p in procs:
            p.join()
            assert p.exitcode == 0
        ingest_lake(con, lake)
        ids = {str(r[0]) for r in con.execute("SELECT event_id FROM job_events").fetchall()}
        total = scalar(con, "SELECT count(*) FROM job_events")
        assert ids == expected and total == len(expected)
        assert duplicate_event_ids(con) == 0
        emitted_lines = sum(len(f.read_text().splitlines()) for f in lake.glob(PART_GLOB))
        assert emitted_lines > len(expected)  # redeliveries really wrote duplicates

        again = ingest_lake(con, lake)
        assert (again.files, again.events_inserted) == (0, 0)
        copy_of = sorted(lake.glob(PART_GLOB))[0]  # a replayed file under a new name
        shutil.copy(copy_of, copy_of.with_name(copy_of.name.replace("part-", "part-replayed-")))
        replay = ingest_lake(con, lake)
        assert replay.files == 1 and replay.events_read > 0 and replay.events_inserted == 0
        assert scalar(con, "SELECT count(*) FROM job_events") == len(expected)
        assert build_job_runs(con) == JOBS
    assert rounds >= 1
