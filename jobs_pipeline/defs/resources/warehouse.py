"""The quality database as a Dagster resource, with the settings its assets need."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb

from jobs_pipeline.settings import Settings
from jobs_pipeline.warehouse.connection import connect
from jobs_pipeline.warehouse.lake_source import LakeSource, lake_source


class DuckDBWarehouseResource(dg.ConfigurableResource):
    """The quality database. Writers are serialised by the ``duckdb_writer`` pool;
    readers open it read-only."""

    path: str
    lake_dir: str  # the event lake: a folder or s3://bucket/prefix
    anomaly_sensitivity: float = 3.0  # ANOMALY_SENSITIVITY: robust score beyond which a change is an anomaly
    dashboard_path: str | None = None  # QUALITY_DASHBOARD_PATH; None: quality_dashboard.html beside the database

    @contextmanager
    def connect(self, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        with connect(self.path, read_only=read_only) as con:
            yield con

    def lake_source(self) -> LakeSource:
        return lake_source(self.lake_dir)

    def dashboard_file(self) -> Path:
        if self.dashboard_path:
            return Path(self.dashboard_path).expanduser()
        return Path(self.path).expanduser().with_name("quality_dashboard.html")


def warehouse_resource(settings: Settings, *, from_env: bool) -> DuckDBWarehouseResource:
    """The deployment's quality database; staging/prod read a *set* location at launch."""

    def located(var: str, is_set: object, value: str) -> Any:
        return dg.EnvVar(var) if from_env and is_set else value

    lake_var = "JOBS_PIPELINE_LAKE_URI" if settings.jobs_pipeline_lake_uri else "JOBS_PIPELINE_LAKE_DIR"
    lake_set = settings.jobs_pipeline_lake_uri or settings.jobs_pipeline_lake_dir
    return DuckDBWarehouseResource(
        path=located("JOBS_PIPELINE_DUCKDB", settings.jobs_pipeline_duckdb, str(settings.duckdb_path)),
        lake_dir=located(lake_var, lake_set, settings.lake_uri),
        anomaly_sensitivity=settings.anomaly_sensitivity,
        dashboard_path=located("QUALITY_DASHBOARD_PATH", settings.quality_dashboard_path,
                               str(settings.dashboard_path)),
    )
