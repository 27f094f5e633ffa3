"""jobs_pipeline: validation jobs of a marketplace product-feed service.

The business core (``domain``, ``jobs``, ``validation``, ``landing``, ``queue``, ``telemetry``,
``warehouse``, ``storage``) imports neither Dagster nor Celery; the adapters (``defs`` for
Dagster, ``worker`` for Celery, ``cli``, ``demo``) wrap it. Map: docs/architecture.md."""

__version__ = "0.1.0"
