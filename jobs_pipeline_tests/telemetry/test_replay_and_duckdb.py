"""``jobs-pipeline telemetry replay`` to a real collector, and the DuckDB emitter's rows
matching the lake ingestion's, exactly once."""

import json
from datetime import timedelta

import pytest

from jobs_pipeline.cli import main
from jobs_pipeline.warehouse.duckdb_sink import DuckDBTelemetryEmitter
from jobs_pipeline.telemetry.lake import LakeTelemetryEmitter
from jobs_pipeline.warehouse.connection import connect, scalar
from jobs_pipeline.warehouse.events import duplicate_event_ids, ingest_lake
from jobs_pipeline_tests.telemetry.collector import Collector
from jobs_pipeline_tests.telemetry.events_factory import stream

COLUMNS = ("event_id, event_type, job_id, task, ts, marketplace, category, region, partition_key, attempt, "
           "sequence, ruleset, tier, records_total, records_valid, records_error, records_warning, "
           "payload_size_bytes, processing_time_ms, latency_ms, error_rate, warning_rate, "
           "CAST(errors_by_field AS VARCHAR), error_type, error_message, error_classification, retry_delay_s")


WORKER, DAGSTER = "urn:jobs-pipeline:prod:worker", "urn:jobs-pipeline:prod:dagster"


@pytest.fixture
def lake(tmp_path):
    """Two days of events; day one written twice (a redelivered job); day one by the worker,
    day two by Dagster (each lake line stores its CloudEvents source)."""
    day1, day2 = stream(20, "d1"), [e.model_copy(update={"timestamp": e.timestamp + timedelta(days=1)})
                                    for e in stream(10, "d2")]
    for batch, source in ((day1, WORKER), (day1[:10], WORKER), (day2, DAGSTER)):
        emitter = LakeTelemetryEmitter(tmp_path / "lake", source=source)
        for event in batch:
            emitter.emit(event)
        emitter.close()
    return tmp_path / "lake", day1, day2


def test_replay_since_a_day_to_http(lake, tmp_path, monkeypatch, capsys):
    lake_dir, day1, day2 = lake
    collector = Collector()
    try:
        monkeypatch.setenv("JOBS_PIPELINE_DATA_DIR", str(tmp_path / "data"))
        monkeypatch.setenv("TELEMETRY_SINKS", "lake")
        monkeypatch.setenv("TELEMETRY_SPOOL_DIR", str(tmp_path / "spool"))
        since = day2[0].timestamp.date().isoformat()
        args = ["telemetry", "replay", "--since", since, "--to", "http", "--url", collector.url,
                "--lake-dir", str(lake_dir)]
        assert main(args) == 0
        assert set(collector.ids()) == {str(e.event_id) for e in day2}
        assert main([*args[:3], day1[0].timestamp.date().isoformat(), *args[4:]]) == 0  # everything
        out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert out["events"] == len(day1) + len(day2) and out["duplicates_skipped"] == 10
        assert set(collector.ids()) == {str(e.event_id) for e in day1 + day2}
        assert {r["headers"]["Content-Type"] for r in collector.requests} == {"application/cloudevents-batch+json"}
        # each event keeps its original (source, id): the receiver's duplicate key
        expected = {(WORKER, str(e.event_id)) for e in day1} | {(DAGSTER, str(e.event_id)) for e in day2}
        assert {(e["source"], e["id"]) for e in collector.accepted} == expected
    finally:
        collector.stop()


def test_replay_to_http_needs_a_url(lake, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("JOBS_PIPELINE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("TELEMETRY_SINKS", "lake")
    monkeypatch.delenv("TELEMETRY_HTTP_URL", raising=False)
    assert main(["telemetry", "replay", "--since", "2026-01-01", "--to", "http", "--lake-dir", str(lake[0])]) == 2
    assert "TELEMETRY_HTTP_URL" in capsys.readouterr().err


def test_duckdb_emitter_rows_equal_the_lake_ingestion_and_count_once(lake, tmp_path):
    lake_dir, day1, day2 = lake
    emitter = DuckDBTelemetryEmitter(tmp_path / "direct.duckdb", batch_size=7)
    for event in day1 + day1[:5] + day2:  # a redelivered job re-emits its events
        emitter.emit(event)
    emitter.close()
    assert emitter.inserted == len(day1) + len(day2)
    with connect(tmp_path / "ingested.duckdb") as con:
        ingest_lake(con, lake_dir)
        con.execute(f"ATTACH '{tmp_path / 'direct.duckdb'}' AS direct (READ_ONLY)")
        ingested = con.execute(f"SELECT {COLUMNS} FROM job_events ORDER BY event_id").fetchall()
        direct = con.execute(f"SELECT {COLUMNS} FROM direct.job_events ORDER BY event_id").fetchall()
        assert direct == ingested and len(direct) == len(day1) + len(day2)
        assert scalar(con, "SELECT count(*) FROM direct.job_events WHERE errors_by_field IS NOT NULL") > 0

    again = DuckDBTelemetryEmitter(tmp_path / "direct.duckdb")
    for event in day2:
        again.emit(event)
    again.close()
    assert again.inserted == 0
    with connect(tmp_path / "direct.duckdb") as con:
        assert duplicate_event_ids(con) == 0


def test_duckdb_sink_from_settings(tmp_path, monkeypatch):
    from jobs_pipeline.settings import load_settings
    from jobs_pipeline.telemetry.factory import build_emitter

    monkeypatch.setenv("JOBS_PIPELINE_DATA_DIR", str(tmp_path))
    emitter = build_emitter(["duckdb"], settings=load_settings(telemetry_sinks="duckdb"))
    assert isinstance(emitter, DuckDBTelemetryEmitter) and emitter.path == (tmp_path / "telemetry.duckdb").resolve()
    emitter.close()
