"""Alert sink resources for ``quality_alert_sensor``: log always, a webhook when configured."""

from abc import ABC, abstractmethod

import dagster as dg

from jobs_pipeline.telemetry.endpoint import host_only
from jobs_pipeline.warehouse.alerts import AlertSink, build_alert_sink
from jobs_pipeline.settings import Settings


class AlertSinkResource(dg.ConfigurableResource, ABC):
    """Where quality anomaly alerts go (:mod:`jobs_pipeline.warehouse.alerts`); every backend logs."""

    @abstractmethod
    def get_sink(self) -> AlertSink: ...


class LogAlertSinkResource(AlertSinkResource):
    """Log only (no ``ALERT_WEBHOOK_URL``)."""

    def get_sink(self) -> AlertSink:
        return build_alert_sink(None)


class WebhookAlertSinkResource(AlertSinkResource):
    """Log, then POST the alert JSON to ``url`` (``ALERT_WEBHOOK_URL``, a secret: ``dg.EnvVar``)."""

    url: str
    timeout_s: float = 10.0

    def __repr_args__(self):  # repr and str: the URL's host only, never its path or query
        return [(k, host_only(v) if k == "url" else v) for k, v in super().__repr_args__()]

    def get_sink(self) -> AlertSink:
        return build_alert_sink(self.url, timeout_s=self.timeout_s)


def alert_sink_resource(settings: Settings, *, from_env: bool = True) -> AlertSinkResource:
    if not settings.alert_webhook_url:
        return LogAlertSinkResource()
    # The URL is a secret in every deployment: resolved at launch, hidden in the UI.
    return WebhookAlertSinkResource(url=dg.EnvVar("ALERT_WEBHOOK_URL"))
