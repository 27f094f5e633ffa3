"""The quality database as a Dagster resource, with the settings its assets need.

Writers use :meth:`~DuckDBWarehouseResource.connect` (the ``duckdb_writer`` pool) and call
:meth:`~DuckDBWarehouseResource.publish` after a change; readers open :meth:`read_snapshot`.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb

from jobs_pipeline.settings import Settings
from jobs_pipeline.warehouse.connection import connect
from jobs_pipeline.warehouse.events import DEDUP_WINDOW_DAYS
from jobs_pipeline.warehouse.lake_export import export_days
from jobs_pipeline.warehouse.lake_source import LakeSource, lake_source
from jobs_pipeline.warehouse.snapshot import publish_snapshot


class DuckDBWarehouseResource(dg.ConfigurableResource):
    """The quality database. Writers are serialised by the ``duckdb_writer`` pool; people,
    the dashboard and the alert sensor read the snapshot, which never blocks a writer."""

    path: str
    lake_dir: str  # the event lake: a folder or s3://bucket/prefix
    anomaly_sensitivity: float = 3.0  # ANOMALY_SENSITIVITY: robust score beyond which a change is an anomaly
    dashboard_path: str | None = None  # QUALITY_DASHBOARD_PATH; None: quality_dashboard.html beside the database
    snapshot_path: str | None = None  # QUALITY_SNAPSHOT_PATH; None: <database stem>.snapshot.duckdb beside it
    dedup_window_days: int = DEDUP_WINDOW_DAYS  # EVENT_DEDUP_WINDOW_DAYS (see warehouse.events.drop_duplicates)
    lake_backlog_max_files: int = 100  # LAKE_BACKLOG_MAX_FILES: lake files waiting past which job_events_backlog fails

    @contextmanager
    def connect(self, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        with connect(self.path, read_only=read_only) as con:
            yield con

    def snapshot_file(self) -> Path:
        if self.snapshot_path:
            return Path(self.snapshot_path).expanduser()
        db = Path(self.path).expanduser()
        return db.with_name(f"{db.stem}.snapshot.duckdb")

    @contextmanager
    def read_snapshot(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The published read tables, read-only (raises duckdb.IOException before the first publish)."""
        with connect(self.snapshot_file(), read_only=True) as con:
            yield con

    def publish(self, con: duckdb.DuckDBPyConnection) -> list[str]:
        """Swap in a new snapshot of the read tables (a writer, after its change)."""
        return publish_snapshot(con, self.snapshot_file())

    def export_days(self, con: duckdb.DuckDBPyConnection, table: str, days) -> list[str]:
        """With an ``s3://`` lake, rewrite those days of ``table`` as Parquet (docs/deployment.md)."""
        return export_days(con, self.lake_dir, table, days)

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
        snapshot_path=(located("QUALITY_SNAPSHOT_PATH", True, str(settings.quality_snapshot_path))
                       if settings.quality_snapshot_path else None),
        dedup_window_days=settings.event_dedup_window_days,
        lake_backlog_max_files=settings.lake_backlog_max_files,
    )
