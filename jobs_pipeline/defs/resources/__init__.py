"""Dagster resources, one ``ConfigurableResource`` subclass per backend, and the one function
that builds every deployment's set."""
