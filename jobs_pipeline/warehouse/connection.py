"""Opening the quality database (one writer at a time, readers read-only) and transactions.

DuckDB allows a single writing process per file; Dagster serialises writers with a pool of
limit 1, and readers (dashboards, checks, the CLI) open the file read-only.
"""

from contextlib import contextmanager
from collections.abc import Iterator
from pathlib import Path

import duckdb


@contextmanager
def connect(path: Path | str, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    path = Path(path)
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path), read_only=read_only)
    try:
        yield con
    finally:
        con.close()


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """``BEGIN``; ``COMMIT`` when the block ends, ``ROLLBACK`` (and re-raise) if it raises."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: list | dict | None = None):
    """The single value of a query (fully fetched: DuckDB 2 keeps unfinished results open)."""
    rows = con.execute(sql, params or []).fetchall()
    return rows[0][0] if rows else None
