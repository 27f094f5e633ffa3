"""Sink configuration from the settings: one place for the worker, Dagster and the CLI.

:func:`check_telemetry_settings` runs at start-up (:mod:`jobs_pipeline.jobs.compose`): an unknown
sink, or the ``http`` sink without ``TELEMETRY_HTTP_URL``, fails at once naming the variable.
"""

from typing import TYPE_CHECKING

from jobs_pipeline.settings import SettingsError
from jobs_pipeline.telemetry.cloudevents import CloudEventsConfig, source_for
from jobs_pipeline.telemetry.registry import TELEMETRY_SINKS

if TYPE_CHECKING:
    from jobs_pipeline.settings import Settings
    from jobs_pipeline.telemetry.http import HTTPSinkConfig


def check_telemetry_settings(settings: "Settings") -> None:
    unknown = [s for s in settings.sinks if s not in TELEMETRY_SINKS]
    if unknown:
        raise SettingsError(f"TELEMETRY_SINKS: unknown telemetry sink(s) {unknown!r}; "
                            f"allowed: {', '.join(sorted(TELEMETRY_SINKS))}")
    if "http" in settings.sinks and not (settings.telemetry_http_url or "").strip():
        raise SettingsError(
            "TELEMETRY_HTTP_URL: TELEMETRY_SINKS includes 'http' but no collector URL is set; "
            "set TELEMETRY_HTTP_URL (and TELEMETRY_HTTP_TOKEN if the collector needs one)"
        )


def cloudevents_config(settings: "Settings", component: str = "jobs") -> CloudEventsConfig:
    """``source`` = ``TELEMETRY_SOURCE`` or ``urn:jobs-pipeline:<deployment>:<component>``."""
    source = settings.telemetry_source or source_for(settings.dagster_deployment, component)
    return CloudEventsConfig(source=source, type_namespace=settings.telemetry_type_namespace)


def http_config(settings: "Settings", component: str = "jobs", *, url: str | None = None,
                token: str | None = None, source: str | None = None) -> "HTTPSinkConfig":
    """The HTTP sink's configuration; ``url``/``token`` override (Dagster resolves them from
    ``dg.EnvVar`` at launch), ``source`` too (replay re-sends events under their own)."""
    from jobs_pipeline.telemetry.http import HTTPSinkConfig

    secret = settings.telemetry_http_token.get_secret_value() if settings.telemetry_http_token else None
    url = url or settings.telemetry_http_url
    if not url:
        raise SettingsError("TELEMETRY_HTTP_URL: the http telemetry sink needs a URL; set TELEMETRY_HTTP_URL")
    return HTTPSinkConfig(
        url=url,
        token=token or secret,
        mode=settings.telemetry_http_mode,
        max_batch_events=settings.telemetry_http_batch_max_events,
        max_batch_bytes=settings.telemetry_http_batch_max_bytes,
        max_batch_age_s=settings.telemetry_http_batch_max_age_s,
        gzip=settings.telemetry_http_gzip,
        timeout_s=settings.telemetry_http_timeout_s,
        backoff_base_s=settings.telemetry_http_backoff_base_s,
        backoff_cap_s=settings.telemetry_http_backoff_cap_s,
        max_queue_events=settings.telemetry_http_max_queue,
        spool_dir=settings.telemetry_spool_path,
        cloudevents=_with_source(cloudevents_config(settings, component), source),
    )


def _with_source(config: CloudEventsConfig, source: str | None) -> CloudEventsConfig:
    return config if not source else CloudEventsConfig(source=source, type_namespace=config.type_namespace)
