"""The quality database as a Dagster resource."""

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import duckdb

from jobs_pipeline.warehouse.connection import connect


class DuckDBWarehouseResource(dg.ConfigurableResource):
    """The quality database. Writers are serialised by the ``duckdb_writer`` pool;
    readers open it read-only."""

    path: str
    lake_dir: str

    @contextmanager
    def connect(self, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        with connect(self.path, read_only=read_only) as con:
            yield con
