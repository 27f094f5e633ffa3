"""Choose the queue backend from settings (``QUEUE_BACKEND``); callers never change.

Backends are resolved from :data:`QUEUE_BACKENDS` lazily, so a backend's client library is
imported only when it is chosen.
"""

from importlib import import_module
from typing import TYPE_CHECKING

from jobs_pipeline.errors import SettingsError
from jobs_pipeline.queue.publisher import QueuePublisher
from jobs_pipeline.queue.registry import QUEUE_BACKENDS

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


def build_publisher(settings: "Settings", backend: str | None = None) -> QueuePublisher:
    """The publisher for ``backend`` (default: ``settings.queue_backend``)."""
    name = backend or settings.queue_backend
    cls = publisher_class(name)
    return cls.from_settings(settings) if hasattr(cls, "from_settings") else cls(
        {"free": settings.queue_name_free, "pro": settings.queue_name_pro}
    )
