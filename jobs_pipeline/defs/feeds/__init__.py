"""Dagster definitions that launch validation: the ``validate_feed`` job and its sensors."""
