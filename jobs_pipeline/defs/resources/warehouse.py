"""The quality database as a Dagster resource."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import dagster as dg
import duckdb

from jobs_pipeline.settings import Settings
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


def warehouse_resource(settings: Settings, *, from_env: bool) -> DuckDBWarehouseResource:
    """The deployment's quality database; staging/prod read a *set* location at launch."""

    def located(var: str, is_set: object, value: str) -> Any:
        return dg.EnvVar(var) if from_env and is_set else value

    lake_var = "JOBS_PIPELINE_LAKE_URI" if settings.jobs_pipeline_lake_uri else "JOBS_PIPELINE_LAKE_DIR"
    lake_set = settings.jobs_pipeline_lake_uri or settings.jobs_pipeline_lake_dir
    return DuckDBWarehouseResource(
        path=located("JOBS_PIPELINE_DUCKDB", settings.jobs_pipeline_duckdb, str(settings.duckdb_path)),
        lake_dir=located(lake_var, lake_set, settings.lake_uri),
    )
