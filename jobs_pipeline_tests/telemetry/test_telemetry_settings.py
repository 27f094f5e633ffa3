"""TELEMETRY_SINKS with http: checked at start-up; the token only through dg.EnvVar."""

import dagster as dg
import pytest

from jobs_pipeline.jobs.compose import load_checked_settings
from jobs_pipeline.settings import SettingsError
from jobs_pipeline.telemetry.composite import CompositeTelemetryEmitter
from jobs_pipeline.telemetry.factory import build_emitter
from jobs_pipeline.telemetry.http import HTTPTelemetryEmitter


def test_http_sink_without_url_fails_at_start_up_naming_the_variable(monkeypatch):
    monkeypatch.delenv("TELEMETRY_HTTP_URL", raising=False)
    monkeypatch.setenv("TELEMETRY_SINKS", "lake,http")
    with pytest.raises(SettingsError, match="TELEMETRY_HTTP_URL"):
        load_checked_settings()


def test_worker_and_dagster_build_the_same_sinks(tmp_path, monkeypatch):
    from jobs_pipeline.defs.resources.deployments import resources_for
    from jobs_pipeline.defs.resources.telemetry import HTTPTelemetryResource

    monkeypatch.setenv("JOBS_PIPELINE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TELEMETRY_SINKS", "lake,http")
    monkeypatch.setenv("TELEMETRY_HTTP_URL", "http://127.0.0.1:9/collect")
    monkeypatch.setenv("TELEMETRY_HTTP_TOKEN", "hidden-token")
    settings = load_checked_settings()
    worker = build_emitter(settings.sinks, lake_dir=settings.lake_dir, settings=settings)
    assert isinstance(worker, CompositeTelemetryEmitter)
    [http] = worker.direct.values()
    assert isinstance(http, HTTPTelemetryEmitter) and http.config.token == "hidden-token"
    assert http.config.spool_dir == (tmp_path / "telemetry-spool").resolve()
    worker.close()

    prod = resources_for(settings.model_copy(update={"dagster_deployment": "prod"}))["job_service"].telemetry
    assert isinstance(prod, HTTPTelemetryResource)
    assert prod.http_token == dg.EnvVar("TELEMETRY_HTTP_TOKEN") and prod.http_url == dg.EnvVar("TELEMETRY_HTTP_URL")
    local = resources_for(settings)["job_service"].telemetry
    assert local.http_token == dg.EnvVar("TELEMETRY_HTTP_TOKEN")  # never the literal secret
    assert "hidden-token" not in repr(local)
