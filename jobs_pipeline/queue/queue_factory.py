"""Build the queue publisher settings ask for (``QUEUE_BACKEND``, plus ``QUEUE_ROLLOUT_*``).

Backends come from :data:`QUEUE_BACKENDS`, imported only when chosen. With a rollout backend
and a positive ``QUEUE_ROLLOUT_PERCENT`` that share of jobs goes through the rollout backend.
A missing variable fails here with a :class:`SettingsError` naming it.
"""

from importlib import import_module
from typing import TYPE_CHECKING

from jobs_pipeline.queue.publisher import QueuePublisher
from jobs_pipeline.queue.registry import QUEUE_BACKENDS
from jobs_pipeline.queue.requirements import require
from jobs_pipeline.settings import SettingsError

if TYPE_CHECKING:
    from jobs_pipeline.settings import Settings


def publisher_class(backend: str) -> type:
    try:
        target = QUEUE_BACKENDS[backend]
    except KeyError:
        raise SettingsError(
            f"QUEUE_BACKEND: unknown queue backend {backend!r}; allowed: {', '.join(sorted(QUEUE_BACKENDS))}"
        ) from None
    module, _, attr = target.partition(":")
    return getattr(import_module(module), attr)


def build_single(settings: "Settings", backend: str) -> QueuePublisher:
    """One backend, no rollout wrapping."""
    if backend in QUEUE_BACKENDS:
        require(settings, backend)  # before importing the backend's client library
    cls = publisher_class(backend)
    if hasattr(cls, "from_settings"):
        return cls.from_settings(settings)
    # A backend without from_settings takes the job queue names and the outcome queue names.
    return cls({"free": settings.queue_name_free, "pro": settings.queue_name_pro}, settings.outcome_queue_names)


def build_publisher(settings: "Settings", backend: str | None = None) -> QueuePublisher:
    """The publisher for ``backend`` (default: ``settings.queue_backend``, plus the rollout)."""
    if backend is not None:
        return build_single(settings, backend)
    primary = build_single(settings, settings.queue_backend)
    rollout = settings.queue_rollout_backend
    if not rollout or settings.queue_rollout_percent <= 0:
        return primary
    from jobs_pipeline.queue.rollout import RolloutQueuePublisher

    return RolloutQueuePublisher(primary, build_single(settings, rollout), settings.queue_rollout_percent)
