"""Telemetry resources: ``TELEMETRY_SINKS`` built by the same factory the Celery worker uses."""

from typing import Any

import dagster as dg

from jobs_pipeline.defs.resources.config import env_or
from jobs_pipeline.settings import Settings
from jobs_pipeline.telemetry.emitter import TelemetryEmitter
from jobs_pipeline.telemetry.endpoint import host_only
from jobs_pipeline.telemetry.factory import build_emitter


class TelemetryResource(dg.ConfigurableResource):
    """The job event sinks (``TELEMETRY_SINKS``), built by the same factory the worker uses."""

    sinks: list[str] = ["log", "lake"]
    lake_dir: str

    def get_emitter(self) -> TelemetryEmitter:
        return build_emitter(self.sinks, lake_dir=self.lake_dir, component="dagster")


class HTTPTelemetryResource(TelemetryResource):
    """Sinks including ``http``: the collector URL and token resolve at launch (``dg.EnvVar``,
    so the token never shows in the UI); the rest of ``TELEMETRY_HTTP_*`` comes from settings."""

    http_url: str
    http_token: str | None = None

    def __repr_args__(self):  # repr and str: the collector's host only, no token
        hidden = {"http_url": host_only, "http_token": lambda v: v and "***"}
        return [(k, hidden[k](v) if k in hidden else v) for k, v in super().__repr_args__()]

    def get_emitter(self) -> TelemetryEmitter:
        return build_emitter(self.sinks, lake_dir=self.lake_dir, component="dagster",
                             http_url=self.http_url, http_token=self.http_token)


def telemetry_resource(settings: Settings, lake_dir: Any, *, from_env: bool) -> TelemetryResource:
    """``TELEMETRY_SINKS`` as a resource; the HTTP token is always read through ``dg.EnvVar``."""
    if "http" not in settings.sinks:
        return TelemetryResource(sinks=settings.sinks, lake_dir=lake_dir)
    return HTTPTelemetryResource(
        sinks=settings.sinks, lake_dir=lake_dir,
        http_url=env_or("TELEMETRY_HTTP_URL", settings.telemetry_http_url, settings.telemetry_http_url, from_env),
        http_token=dg.EnvVar("TELEMETRY_HTTP_TOKEN") if settings.telemetry_http_token else None,
    )
