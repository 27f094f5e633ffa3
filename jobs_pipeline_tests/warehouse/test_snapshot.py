"""Readers never block writers: a BI tool (another process) holds the read snapshot open
while the assets ingest, rebuild and refresh a mart day, and every step succeeds."""

import subprocess
import sys
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb

from jobs_pipeline.defs.quality import marts as mart_defs
from jobs_pipeline.defs.quality import tables as table_defs
from jobs_pipeline.defs.resources.warehouse import DuckDBWarehouseResource
from jobs_pipeline.telemetry.lake import LakeTelemetryEmitter
from jobs_pipeline.warehouse.snapshot import READ_TABLES, publish_snapshot
from jobs_pipeline_tests.telemetry.events_factory import stream

TABLES = [table_defs.job_events, table_defs.job_runs, table_defs.marketplace_quality]
DAY = date(2026, 11, 29)  # the events' day

#: A BI tool: opens the snapshot, reads, waits for a line on stdin, reads again on the same connection.
READER = """
import sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
count = lambda: con.execute("SELECT count(*) FROM job_runs").fetchall()[0][0]
print(count(), flush=True)
sys.stdin.readline()
print(count(), flush=True)
"""


def _write_lake(lake: Path, tag: str, jobs: int) -> None:
    emitter = LakeTelemetryEmitter(lake, fsync=False)
    for event in stream(jobs, tag):
        emitter.emit(event)
    emitter.close()


def test_a_reader_holding_the_snapshot_blocks_neither_an_ingest_nor_a_mart_build(tmp_path):
    lake = tmp_path / "lake"
    warehouse = DuckDBWarehouseResource(path=str(tmp_path / "quality.duckdb"), lake_dir=str(lake))
    resources = {"warehouse": warehouse}
    _write_lake(lake, "first", 6)
    with dg.instance_for_test() as instance:
        assert dg.materialize(TABLES, resources=resources, instance=instance).success
        reader = subprocess.Popen([sys.executable, "-c", READER, str(warehouse.snapshot_file())],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            before = int(reader.stdout.readline())
            assert before == 6
            _write_lake(lake, "second", 4)  # new events while the reader holds the file open
            ingest = dg.materialize(TABLES, resources=resources, instance=instance)
            mart = dg.materialize([mart_defs.marketplace_quality_daily], partition_key=DAY.isoformat(),
                                  resources=resources, instance=instance)
            dashboard = dg.materialize([mart_defs.quality_dashboard], instance=instance, resources={
                "warehouse": warehouse.model_copy(update={"dashboard_path": str(tmp_path / "d.html")})})
            out, _ = reader.communicate("go\n", timeout=60)
        finally:
            reader.kill()
    assert ingest.success and mart.success and dashboard.success
    assert reader.returncode == 0 and int(out) == before  # its snapshot stayed whole and unchanged
    with duckdb.connect(str(warehouse.snapshot_file()), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM job_runs").fetchall()[0][0] == 10
        assert con.execute("SELECT sum(jobs) FROM marketplace_quality_daily").fetchall()[0][0] > 0
    assert not list(tmp_path.glob(".*.tmp*"))  # no temporary snapshot left behind


def test_the_snapshot_holds_the_read_tables_and_views_only(tmp_path):
    db = tmp_path / "q.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("CREATE TABLE job_events AS SELECT 1 AS x")
        con.execute("CREATE TABLE job_runs AS SELECT range AS n FROM range(3)")
        con.execute("CREATE TABLE quality_anomaly_scores AS SELECT range AS n, range > 0 AS anomaly FROM range(4)")
        con.execute("CREATE VIEW quality_anomalies AS SELECT * FROM quality_anomaly_scores WHERE anomaly")
        con.execute("COMMENT ON TABLE job_runs IS 'one row per job'")
        published = publish_snapshot(con, tmp_path / "snap.duckdb")
    assert set(published) == {"job_runs", "quality_anomaly_scores", "quality_anomalies"} and "job_events" not in READ_TABLES
    with duckdb.connect(str(tmp_path / "snap.duckdb"), read_only=True) as snap:
        assert snap.execute("SELECT count(*) FROM quality_anomalies").fetchall()[0][0] == 3
        assert snap.execute("SELECT comment FROM duckdb_tables() WHERE table_name = 'job_runs'").fetchall() == [
            ("one row per job",)]
        assert not snap.execute("SELECT * FROM duckdb_tables() WHERE table_name = 'job_events'").fetchall()
