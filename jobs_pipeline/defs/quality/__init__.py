"""Dagster definitions of the quality tables: assets, checks, schedules and alerts."""
