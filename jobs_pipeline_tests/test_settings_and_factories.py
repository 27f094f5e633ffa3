"""Configuration fails at start-up naming the variable; factories build what settings say."""

import pytest

from jobs_pipeline.jobs.compose import load_checked_settings
from jobs_pipeline.queue.memory import InMemoryQueuePublisher
from jobs_pipeline.queue.queue_factory import build_publisher, publisher_class
from jobs_pipeline.settings import SettingsError
from jobs_pipeline.telemetry.composite import CompositeTelemetryEmitter
from jobs_pipeline.telemetry.factory import build_emitter
from jobs_pipeline.telemetry.lake import LakeTelemetryEmitter


def test_defaults_are_the_embedded_local_setup(data_dir):
    s = load_checked_settings()
    assert s.queue_backend == "memory" and s.dagster_deployment == "local"
    assert s.landing_dir == data_dir.resolve() / "landing"
    assert s.duckdb_path.name == "quality.duckdb"


def test_unknown_queue_backend_names_the_variable_and_allowed_values(data_dir, monkeypatch):
    monkeypatch.setenv("QUEUE_BACKEND", "carrier-pigeon")
    with pytest.raises(SettingsError) as err:
        load_checked_settings()
    assert "QUEUE_BACKEND" in str(err.value) and "memory" in str(err.value)


def test_wrong_deployment_and_sinks_are_named(data_dir, monkeypatch):
    monkeypatch.setenv("DAGSTER_DEPLOYMENT", "moon")
    monkeypatch.setenv("TELEMETRY_SINKS", "log,teletype")
    with pytest.raises(SettingsError) as err:
        load_checked_settings()
    assert "DAGSTER_DEPLOYMENT" in str(err.value) and "TELEMETRY_SINKS" in str(err.value)


def test_factory_builds_the_memory_publisher(settings):
    publisher = build_publisher(settings)
    assert isinstance(publisher, InMemoryQueuePublisher) and publisher.backend == "memory"
    with pytest.raises(SettingsError, match="QUEUE_BACKEND"):
        publisher_class("nope")


def test_emitter_factory(tmp_path):
    assert isinstance(build_emitter(["lake"], lake_dir=tmp_path), LakeTelemetryEmitter)
    assert isinstance(build_emitter(["log", "lake"], lake_dir=tmp_path), CompositeTelemetryEmitter)
