"""The read-only snapshot: the tables people read, published as one DuckDB file.

Writers keep the quality database to themselves. After each materialisation
:func:`publish_snapshot` copies the read tables (and their views) into a file beside the
snapshot and swaps it in with ``os.replace``: BI tools, the dashboard and the alert sensor
open the snapshot, and a reader holding the old file open neither blocks nor sees a write.
"""

import os
from pathlib import Path

import duckdb

from jobs_pipeline.warehouse.connection import connect

#: Tables published when present (a table not built yet is simply absent from the snapshot).
READ_TABLES = ("job_runs", "marketplace_quality", "marketplace_quality_daily", "field_error_hotspots",
               "region_latency_daily", "quality_anomaly_scores", "quality_recommendations", "latency_outliers")
#: Views over the read tables, recreated in the snapshot from their definitions.
READ_VIEWS = ("quality_anomalies",)

_OBJECTS_SQL = """
SELECT table_name, comment, NULL AS sql FROM duckdb_tables()
WHERE database_name = current_database() AND schema_name = 'main' AND table_name IN (SELECT unnest($tables))
UNION ALL
SELECT view_name, comment, sql FROM duckdb_views()
WHERE database_name = current_database() AND schema_name = 'main' AND view_name IN (SELECT unnest($views))
"""


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def publish_snapshot(con: duckdb.DuckDBPyConnection, path: Path | str) -> list[str]:
    """Copy the read tables of ``con``'s database to the snapshot at ``path`` (atomic swap);
    returns the names published. Call it outside a transaction, holding the writer role."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    for stale in (tmp, Path(f"{tmp}.wal")):
        stale.unlink(missing_ok=True)
    objects = con.execute(_OBJECTS_SQL, {"tables": list(READ_TABLES), "views": list(READ_VIEWS)}).fetchall()
    tables = [(name, comment) for name, comment, sql in objects if sql is None]
    views = [(name, comment, sql) for name, comment, sql in objects if sql is not None]
    try:
        con.execute(f"ATTACH {_quote(str(tmp))} AS snapshot_out")
        try:
            for name, _ in tables:
                con.execute(f'CREATE TABLE snapshot_out."{name}" AS SELECT * FROM main."{name}"')
        finally:
            con.execute("DETACH snapshot_out")
        with connect(tmp) as out:  # views bind in the snapshot's own catalog
            for name, comment, sql in views:
                out.execute(sql)
            for name, comment, *_ in [*tables, *views]:
                if comment:
                    kind = "VIEW" if name in READ_VIEWS else "TABLE"
                    out.execute(f'COMMENT ON {kind} "{name}" IS {_quote(comment)}')
            out.execute("CHECKPOINT")
        os.replace(tmp, path)  # readers of the old file keep it until they close
    finally:
        for leftover in (tmp, Path(f"{tmp}.wal")):
            leftover.unlink(missing_ok=True)
    return [name for name, *_ in [*tables, *views]]
