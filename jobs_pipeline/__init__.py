"""jobs_pipeline: validation jobs of a marketplace product-feed service.

The business core (``jobs``, ``validation``, ``metrics``, ``telemetry``, ``queue``,
``warehouse``) imports neither Dagster nor Celery; the adapters (``defs`` for Dagster,
``worker`` for Celery, ``cli``) wrap it.
"""

__version__ = "0.1.0"
