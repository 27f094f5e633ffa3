"""Build the emitter a deployment asked for (``TELEMETRY_SINKS``), importing only those sinks.

The Celery worker, the CLI and the Dagster resources all call :func:`build_emitter`, so a
deployment configures telemetry once.
"""

from collections.abc import Sequence
from importlib import import_module
from pathlib import Path

from jobs_pipeline.telemetry.composite import CompositeTelemetryEmitter
from jobs_pipeline.telemetry.emitter import TelemetryEmitter
from jobs_pipeline.telemetry.registry import TELEMETRY_SINKS


def _load(name: str) -> type:
    module, _, attr = TELEMETRY_SINKS[name].partition(":")
    return getattr(import_module(module), attr)


def build_sink(name: str, *, lake_dir: Path | str | None = None) -> TelemetryEmitter:
    cls = _load(name)
    if name == "lake":
        if lake_dir is None:
            raise ValueError("the lake sink needs a lake directory (JOBS_PIPELINE_LAKE_DIR)")
        if str(lake_dir).startswith("s3://"):  # JOBS_PIPELINE_LAKE_URI on S3 (issue 8)
            from jobs_pipeline.storage.s3_lake import S3LakeTelemetryEmitter

            return S3LakeTelemetryEmitter(str(lake_dir))
        return cls(lake_dir)
    return cls()


def build_emitter(sinks: Sequence[str], *, lake_dir: Path | str | None = None) -> TelemetryEmitter:
    """One emitter for the given sink names; several are wrapped in a composite."""
    emitters = [build_sink(name, lake_dir=lake_dir) for name in sinks]
    return emitters[0] if len(emitters) == 1 else CompositeTelemetryEmitter(emitters)
