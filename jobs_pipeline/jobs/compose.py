"""The composition root: checked settings at start-up, and the one place a JobService is built.

The worker, the CLI, the Dagster code location and the demo load their settings through
:func:`load_checked_settings`, so a wrong variable fails when they start, naming it; each builds
its :class:`JobService` with :func:`build_service`.
"""

from collections.abc import Collection, Mapping

from jobs_pipeline.domain.retry import ExponentialRetryPolicy, RetryPolicy
from jobs_pipeline.jobs.reports import ReportStore, build_report_store
from jobs_pipeline.jobs.ruleset_files import install_ruleset_files
from jobs_pipeline.jobs.service import JobService
from jobs_pipeline.queue.publisher import QueuePublisher
from jobs_pipeline.queue.queue_factory import build_publisher
from jobs_pipeline.queue.registry import QUEUE_BACKENDS
from jobs_pipeline.queue.requirements import check_queue_settings
from jobs_pipeline.settings import Settings, load_settings
from jobs_pipeline.telemetry.config import check_telemetry_settings
from jobs_pipeline.telemetry.emitter import TelemetryEmitter
from jobs_pipeline.telemetry.factory import build_emitter
from jobs_pipeline.telemetry.registry import TELEMETRY_SINKS
from jobs_pipeline.validation.sources import limits_from_settings, sweep_temp_feeds

#: The settings fields whose values must be registered names.
KNOWN_NAMES: Mapping[str, Collection[str]] = {
    "queue_backend": QUEUE_BACKENDS,
    "queue_rollout_backend": QUEUE_BACKENDS,
    "telemetry_sinks": TELEMETRY_SINKS,
}


def check_settings(settings: Settings) -> None:
    """The checks that need the registries: backend and sink names, each backend's variables,
    the outcome queues, the http sink's URL. Raises :class:`SettingsError` naming the variable."""
    check_queue_settings(settings)
    check_telemetry_settings(settings)


def load_checked_settings(**overrides: object) -> Settings:
    """The environment, type-checked and checked against the registries (start-up)."""
    settings = load_settings(known_names=KNOWN_NAMES, **overrides)
    check_settings(settings)
    return settings


def report_store_from_settings(settings: Settings) -> ReportStore:
    """``JOBS_PIPELINE_REPORTS_URI`` if set, else ``JOBS_PIPELINE_REPORTS_DIR`` (else ``<data>/reports``)."""
    return build_report_store(settings.reports_uri, endpoint_url=settings.aws_endpoint_url,
                              region=settings.aws_region_name)


def install_rulesets(settings: Settings) -> None:
    """Make ``JOBS_PIPELINE_RULESETS_DIR``'s rulesets loadable beside the shipped ones (unset: none)."""
    install_ruleset_files(settings.jobs_pipeline_rulesets_dir, endpoint_url=settings.aws_endpoint_url,
                          region=settings.aws_region_name)


_FROM_SETTINGS = object()


def build_service(settings: Settings, *, publisher: QueuePublisher | None = None,
                  emitter: TelemetryEmitter | None = None, component: str = "jobs",
                  retry_policy: RetryPolicy | None = None,
                  report_store: ReportStore | None | object = _FROM_SETTINGS) -> JobService:
    """A :class:`JobService` from settings: the ``QUEUE_BACKEND`` publisher, the ``TELEMETRY_SINKS``
    emitter (CloudEvents source ``component``), the ``RETRY_*`` policy, the reports location and
    the ``FEED_*`` limits. ``publisher``, ``emitter``, ``retry_policy`` and ``report_store``
    (``None``: no report) replace what settings would build. Temporary feed files a killed
    run left behind (older than the longest job, ``CELERY_VISIBILITY_TIMEOUT_S``) are swept."""
    sweep_temp_feeds(older_than_s=settings.celery_visibility_timeout_s)
    install_rulesets(settings)
    if publisher is None:
        publisher = build_publisher(settings)
    if emitter is None:
        emitter = build_emitter(settings.sinks, lake_dir=settings.lake_uri, settings=settings, component=component)
    return JobService(
        publisher,
        emitter,
        retry_policy=retry_policy or ExponentialRetryPolicy.from_settings(settings),
        progress_every=settings.progress_every_records,
        sample_limit=settings.sample_errors_limit,
        report_store=report_store_from_settings(settings) if report_store is _FROM_SETTINGS else report_store,
        read_limits=limits_from_settings(settings),
    )
