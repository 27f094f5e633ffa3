"""Build the emitter a deployment asked for (``TELEMETRY_SINKS``), importing only those sinks.

The Celery worker, the CLI and the Dagster resources all call :func:`build_emitter`.
"""

from collections.abc import Sequence
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING

from jobs_pipeline.settings import SettingsError
from jobs_pipeline.telemetry.composite import CompositeTelemetryEmitter
from jobs_pipeline.telemetry.emitter import TelemetryEmitter
from jobs_pipeline.telemetry.registry import TELEMETRY_SINKS

if TYPE_CHECKING:
    from jobs_pipeline.settings import Settings


def _load(name: str) -> type:
    if name not in TELEMETRY_SINKS:
        raise SettingsError(f"TELEMETRY_SINKS: unknown telemetry sink(s) {[name]!r}; "
                            f"allowed: {', '.join(sorted(TELEMETRY_SINKS))}")
    module, _, attr = TELEMETRY_SINKS[name].partition(":")
    return getattr(import_module(module), attr)


def _settings(settings: "Settings | None") -> "Settings":
    if settings is not None:
        return settings
    from jobs_pipeline.settings import load_settings

    return load_settings()


def build_sink(name: str, *, lake_dir: Path | str | None = None, settings: "Settings | None" = None,
               component: str = "jobs", http_url: str | None = None,
               http_token: str | None = None, source: str | None = None) -> TelemetryEmitter:
    """One sink. ``http``, ``duckdb`` and ``lake`` read ``TELEMETRY_*`` from ``settings`` (loaded
    from the environment when not given); ``http_url``/``http_token`` override (Dagster
    ``dg.EnvVar``). The lake stores the CloudEvents source the http sink sends (``source``
    overrides it: replay)."""
    cls = _load(name)
    if name == "http":
        from jobs_pipeline.telemetry.config import http_config

        return cls(http_config(_settings(settings), component, url=http_url, token=http_token, source=source))
    if name == "duckdb":
        return cls(_settings(settings).telemetry_duckdb_file)
    if name == "lake":
        if lake_dir is None:
            raise ValueError("the lake sink needs a lake directory (JOBS_PIPELINE_LAKE_DIR)")
        from jobs_pipeline.telemetry.config import cloudevents_config

        source = source or cloudevents_config(_settings(settings), component).source
        if str(lake_dir).startswith("s3://"):  # JOBS_PIPELINE_LAKE_URI on S3
            from jobs_pipeline.telemetry.s3_lake import S3LakeTelemetryEmitter

            return S3LakeTelemetryEmitter(str(lake_dir), source=source)
        return cls(lake_dir, source=source)
    return cls()


def build_emitter(sinks: Sequence[str], *, lake_dir: Path | str | None = None,
                  settings: "Settings | None" = None, component: str = "jobs",
                  http_url: str | None = None, http_token: str | None = None) -> TelemetryEmitter:
    """One emitter for the given sink names; several are wrapped in a composite (each sink
    with its own queue and retry state)."""
    emitters = [build_sink(name, lake_dir=lake_dir, settings=settings, component=component,
                           http_url=http_url, http_token=http_token) for name in sinks]
    return emitters[0] if len(emitters) == 1 else CompositeTelemetryEmitter(emitters)
