"""The DuckDB quality tables, built from the event lake (no Dagster here: assets wrap it)."""
