"""Replay keeps each event's CloudEvents source: the lake line stores it when the event is
written (the source the live HTTP sink sends), and replay re-sends under it, so a receiver
de-duplicating by (source, id) sees a replay as copies. Lines from before the lake stored a
source go out under ``--legacy-source`` (default: the replay's own source)."""

import json

import pytest

from jobs_pipeline.cli import main
from jobs_pipeline.settings import load_settings
from jobs_pipeline.telemetry.factory import build_emitter
from jobs_pipeline.telemetry.lake import LakeTelemetryEmitter, read_lake_line
from jobs_pipeline.telemetry.s3_lake import S3LakeTelemetryEmitter
from jobs_pipeline_tests.telemetry.collector import Collector
from jobs_pipeline_tests.telemetry.events_factory import stream


@pytest.fixture
def env(monkeypatch, tmp_path):
    monkeypatch.setenv("JOBS_PIPELINE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("TELEMETRY_SINKS", "lake")
    monkeypatch.setenv("TELEMETRY_SPOOL_DIR", str(tmp_path / "spool"))
    monkeypatch.setenv("DAGSTER_DEPLOYMENT", "staging")
    monkeypatch.delenv("TELEMETRY_SOURCE", raising=False)
    monkeypatch.delenv("TELEMETRY_HTTP_URL", raising=False)


def _replay(lake, url, *extra) -> None:
    assert main(["telemetry", "replay", "--since", "2026-11-01", "--to", "http", "--url", url,
                 "--lake-dir", str(lake), *extra]) == 0


def test_replay_sends_the_same_source_and_id_as_the_live_sink(env, tmp_path, capsys):
    live, later = Collector(), Collector()
    try:
        lake = tmp_path / "lake"
        events = stream(5, "live")
        for component in ("worker", "dagster"):
            emitter = build_emitter(["lake", "http"], lake_dir=lake, settings=load_settings(),
                                    component=component, http_url=live.url)
            for event in events[:8] if component == "worker" else events[8:]:
                emitter.emit(event)
            emitter.flush()
            emitter.close()
        _replay(lake, later.url)
        sent_live = sorted((e["source"], e["id"]) for e in live.accepted)
        replayed = sorted((e["source"], e["id"]) for e in later.accepted)
    finally:
        live.stop()
        later.stop()
    assert len(sent_live) == len(events) and replayed == sent_live
    assert {s for s, _ in replayed} == {"urn:jobs-pipeline:staging:worker", "urn:jobs-pipeline:staging:dagster"}
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["without_source"] == 0


@pytest.mark.parametrize("legacy", [None, "urn:jobs-pipeline:prod:worker"])
def test_lines_without_a_source_use_the_legacy_source(env, tmp_path, capsys, legacy):
    lake = tmp_path / "lake"
    emitter = LakeTelemetryEmitter(lake)
    events = stream(2, "old")
    for event in events:
        emitter.emit(event)
    emitter.close()
    for part in lake.glob("date=*/part-*.jsonl"):  # as written before the lake stored the source
        lines = [json.loads(line) for line in part.read_text().splitlines()]
        part.write_text("".join(json.dumps({k: v for k, v in d.items() if k != "source"}) + "\n" for d in lines))
    collector = Collector()
    try:
        _replay(lake, collector.url, *(["--legacy-source", legacy] if legacy else []))
        sources = {e["source"] for e in collector.accepted}
    finally:
        collector.stop()
    assert sources == {legacy or "urn:jobs-pipeline:staging:replay"}
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["without_source"] == out["events"] == len(events)


def test_both_lakes_store_the_source_and_lines_read_back():
    class Bucket:
        def __init__(self):
            self.bodies = []

        def put_object(self, **kw):
            self.bodies.append(kw["Body"])

    bucket = Bucket()
    s3 = S3LakeTelemetryEmitter("s3://lake/events", client=bucket, source="urn:x:prod:worker")
    event = stream(1, "s3")[0]
    s3.emit(event)
    s3.flush()
    [line] = bucket.bodies[0].decode().splitlines()
    assert read_lake_line(line) == ("urn:x:prod:worker", event)
    assert json.loads(line)["source"] == "urn:x:prod:worker"
