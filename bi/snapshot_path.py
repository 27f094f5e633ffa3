"""Print the absolute path of the read-only snapshot Superset connects to (run with the project's .venv).

The same rule as ``defs/resources/warehouse.py``: ``QUALITY_SNAPSHOT_PATH`` when set, else
``<database stem>.snapshot.duckdb`` beside ``JOBS_PIPELINE_DUCKDB`` (``data/quality.snapshot.duckdb``).
Never the writers' database itself.
"""

from jobs_pipeline.settings import load_settings

settings = load_settings()
db = settings.duckdb_path
path = settings.quality_snapshot_path or db.with_name(f"{db.stem}.snapshot.duckdb")
print(path.expanduser().resolve())
