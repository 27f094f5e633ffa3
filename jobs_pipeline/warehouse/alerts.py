"""Quality alerts: what one anomaly alert says, where it goes, and its telemetry event.

:class:`AnomalyAlert` is the webhook's JSON body (docs/dashboards.md, "Alerts"), its
``alert_id`` (the ``anomaly_id``) also the ``Idempotency-Key``. Sinks: the log always, the
webhook when ``ALERT_WEBHOOK_URL`` is set. :func:`emit_anomaly_event` logs the ``quality.anomaly``
event on the ``jobs_pipeline.events`` logger (its own envelope: not a ``job.*`` event).
"""

import json
import logging
from datetime import UTC, date, datetime
from typing import Protocol

import httpx
from pydantic import BaseModel, ConfigDict

from jobs_pipeline.telemetry.endpoint import DeliveryError, endpoint, install_httpx_redaction

alert_log = logging.getLogger("jobs_pipeline.warehouse.alerts")
event_log = logging.getLogger("jobs_pipeline.events")

ANOMALY_EVENT_TYPE = "quality.anomaly"
#: 2: one alert per incident (``state`` opened / resolved, ``incident_*``, ``keys``, ``top_error_job_*``).
ALERT_SCHEMA_VERSION = 2


class AnomalyAlert(BaseModel):
    """One incident's opening (``state = "opened"``) or its end (``"resolved"``), as sent to
    people and machines (webhook JSON body). A region incident (``incident_scope = "region"``)
    names its region, ``*`` for marketplace and category, and its partition keys in ``keys``;
    its value and baseline are the keys' sum (volume) or mean (error rate)."""

    model_config = ConfigDict(frozen=True)

    type: str = ANOMALY_EVENT_TYPE
    schema_version: int = ALERT_SCHEMA_VERSION
    alert_id: str
    day: date
    partition_key: str
    marketplace: str
    category: str
    region: str
    metric: str
    direction: str
    value: float
    baseline: float
    score: float
    threshold: float
    relative_change: float | None
    training_points: int
    training_start: date | None
    training_end: date | None
    state: str = "opened"  # "opened" | "resolved"
    incident_id: str | None = None
    incident_start: date | None = None
    incident_scope: str = "key"  # "key" | "region"
    keys: list[str] = []
    #: resolved only: "recovered" (back to the old level) or "adapted" (a lasting new level)
    closed_as: str | None = None
    incident_days: int | None = None
    #: the job holding more than half of the day's error records of this key, and its share
    top_error_job_id: str | None = None
    top_error_job_share: float | None = None

    @property
    def subject(self) -> str:
        if self.incident_scope == "region":
            return f"region {self.region} ({len(self.keys)} keys)"
        return self.partition_key

    @property
    def summary(self) -> str:
        pct = "" if self.relative_change is None else f" ({self.relative_change:+.0%})"
        if self.state == "resolved":
            return (f"resolved ({self.closed_as}): {self.metric} {self.direction} for {self.subject} since "
                    f"{self.incident_start}, {self.incident_days} days; on {self.day} {self.value:.4g} vs "
                    f"baseline {self.baseline:.4g}")
        text = (f"{self.metric} {self.direction} on {self.day} for {self.subject}: "
                f"{self.value:.4g} vs baseline {self.baseline:.4g}{pct}, score {self.score:.1f} "
                f"(threshold {self.threshold:g}, {self.training_points} past {self.day:%A}s)")
        if self.top_error_job_id and self.top_error_job_share is not None:
            text += f"; job {self.top_error_job_id} carries {self.top_error_job_share:.0%} of the day's errors"
        return text

    def body(self) -> dict:
        return {**self.model_dump(mode="json"), "summary": self.summary}


class AlertSink(Protocol):
    def send(self, alert: AnomalyAlert) -> None: ...


class LogAlertSink:
    """One WARNING line per alert on ``jobs_pipeline.warehouse.alerts``."""

    def __init__(self, log: logging.Logger | None = None) -> None:
        self.log = log or alert_log

    def send(self, alert: AnomalyAlert) -> None:
        self.log.warning("quality anomaly %s: %s", alert.alert_id, alert.summary)


class WebhookAlertSink:
    """POSTs the JSON body; a non-2xx answer, a refused connection or a timeout raises
    :class:`DeliveryError` (the Dagster run fails and can be retried). The URL is a secret:
    the error names its host only and carries no exception that holds the URL."""

    def __init__(self, url: str, *, timeout_s: float = 10.0, client: httpx.Client | None = None) -> None:
        self.url = url
        self.timeout_s = timeout_s
        self.client = client
        install_httpx_redaction()

    def __repr__(self) -> str:
        return f"WebhookAlertSink({endpoint(self.url)!r})"

    def send(self, alert: AnomalyAlert) -> None:
        headers = {"Idempotency-Key": alert.alert_id, "Content-Type": "application/json"}
        content = json.dumps(alert.body())
        post = self.client.post if self.client is not None else httpx.post
        try:
            response = post(self.url, content=content, headers=headers, timeout=self.timeout_s)
        except httpx.TimeoutException as exc:
            failure, status = f"no answer within {self.timeout_s:g} s ({type(exc).__name__})", None
        except httpx.HTTPError as exc:  # its text may hold the URL: only the type goes on
            failure, status = f"request failed ({type(exc).__name__})", None
        else:
            if response.is_success:
                return
            failure, status = f"answered HTTP {response.status_code}", response.status_code
        # raised outside the handler, so no chained exception carries the URL along
        raise DeliveryError("alert webhook", self.url, failure, status=status)


class CompositeAlertSink:
    def __init__(self, sinks: list[AlertSink]) -> None:
        self.sinks = sinks

    def send(self, alert: AnomalyAlert) -> None:
        for sink in self.sinks:
            sink.send(alert)


def build_alert_sink(webhook_url: str | None, *, timeout_s: float = 10.0) -> AlertSink:
    """Log always; plus the webhook when a URL is configured."""
    sinks: list[AlertSink] = [LogAlertSink()]
    if webhook_url:
        sinks.append(WebhookAlertSink(webhook_url, timeout_s=timeout_s))
    return CompositeAlertSink(sinks)


def anomaly_event(alert: AnomalyAlert, source: str = "urn:jobs-pipeline:quality") -> dict:
    """The ``quality.anomaly`` event: CloudEvents-style envelope, the alert body as ``data``."""
    return {
        "specversion": "1.0",
        "id": alert.alert_id,
        "type": ANOMALY_EVENT_TYPE,
        "source": source,
        "time": datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z"),
        "partitionkey": alert.partition_key,
        "datacontenttype": "application/json",
        "data": alert.body(),
    }


def emit_anomaly_event(alert: AnomalyAlert, log: logging.Logger | None = None) -> dict:
    """Log the ``quality.anomaly`` event as one JSON line. The job-event model (``TelemetryEvent``)
    only admits the five ``job.*`` types and the lake feeds ``job_events``, so the anomaly event is
    its own small envelope, on the same channel as the log sink of job events."""
    event = anomaly_event(alert)
    (log or event_log).info(json.dumps(event, separators=(",", ":")))
    return event
