"""Dagster definitions: thin wrappers over the business core (autoloaded by ``definitions``)."""
