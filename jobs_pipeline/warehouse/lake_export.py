"""``job_events`` and the daily marts as hive-partitioned Parquet on S3, for other engines.

With an ``s3://`` lake, each changed UTC day of a table is written to one object,
``<lake>/tables/<table>/day=YYYY-MM-DD/part-0.parquet`` (zstd; UUID and JSON as strings; no
``day`` column inside, it is the partition), so a re-run rewrites the same key: exactly once,
whatever the retries. Athena, Trino, Spark or DuckDB read them (docs/deployment.md).
"""

import tempfile
from collections.abc import Iterable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb

from jobs_pipeline.storage.s3_objects import upload_file
from jobs_pipeline.storage.uri import S3Uri, is_s3_uri

TABLES_PREFIX = "tables/"
EVENTS = "job_events"


def tables_root(lake_uri: str) -> S3Uri | None:
    """Where the Parquet tables of the lake at ``lake_uri`` go; None for a local lake."""
    return S3Uri.parse(lake_uri).child(TABLES_PREFIX) if is_s3_uri(lake_uri) else None


def object_relpath(table: str, day: date) -> str:
    return f"{table}/day={day.isoformat()}/part-0.parquet"


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> str:
    rows = con.execute("SELECT column_name, data_type FROM information_schema.columns "
                       "WHERE table_schema = 'main' AND table_name = $t ORDER BY ordinal_position",
                       {"t": table}).fetchall()
    return ", ".join(f'CAST("{name}" AS VARCHAR) AS "{name}"' if kind in ("UUID", "JSON") else f'"{name}"'
                     for name, kind in rows if name != "day")


def _day_select(con: duckdb.DuckDBPyConnection, table: str, day: date) -> str:
    if table == EVENTS:  # constant ts bounds: zone maps skip the other days
        start, end = day.isoformat(), (day + timedelta(days=1)).isoformat()
        return (f"SELECT {_columns(con, table)} FROM {table} WHERE ts >= TIMESTAMPTZ '{start} 00:00:00+00' "
                f"AND ts < TIMESTAMPTZ '{end} 00:00:00+00' ORDER BY ts, event_id")
    return f"SELECT {_columns(con, table)} FROM {table} WHERE day = DATE '{day.isoformat()}'"


def export_days(con: duckdb.DuckDBPyConnection, lake_uri: str, table: str, days: Iterable[date], *,
                client: Any | None = None) -> list[str]:
    """Write each of ``days`` of ``table`` to its Parquet object (an empty day too, so a
    re-run replaces what an earlier run wrote); returns the URIs. No-op for a local lake."""
    root = tables_root(lake_uri)
    days = sorted(set(days))
    if root is None or not days:
        return []
    if client is None:
        from jobs_pipeline.storage.client import s3_client

        client = s3_client()
    uris = []
    with tempfile.TemporaryDirectory(prefix="lake-export-") as tmp:
        for day in days:
            local = Path(tmp) / f"{table}-{day.isoformat()}.parquet"
            con.execute(f"COPY ({_day_select(con, table, day)}) TO '{local}' (FORMAT parquet, COMPRESSION zstd)")
            uris.append(upload_file(client, local, root, object_relpath(table, day)))
    return uris
