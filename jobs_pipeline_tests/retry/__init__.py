"""Retries through every layer: fault-injecting services, the Celery worker, Dagster (docs/retries.md)."""
