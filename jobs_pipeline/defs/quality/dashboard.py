"""``quality_dashboard``: the offline HTML page of the marts, redrawn after they change and daily.

Thin wrapper over :mod:`jobs_pipeline.warehouse.dashboard`; reads the published snapshot, so it
runs outside the writer pool.
"""

import dagster as dg

from jobs_pipeline.defs.quality.automation import AFTER_MARTS
from jobs_pipeline.defs.quality.partitions import GROUP
from jobs_pipeline.defs.resources.warehouse import DuckDBWarehouseResource
from jobs_pipeline.warehouse.dashboard import anomaly_files, chart_points, write_dashboard


@dg.asset(group_name=GROUP, kinds={"html"},
          deps=[dg.AssetKey(k) for k in ("marketplace_quality_daily", "field_error_hotspots", "region_latency_daily",
                                         "quality_anomalies", "quality_recommendations")],
          automation_condition=AFTER_MARTS,
          description="Self-contained offline HTML dashboard of the marts (QUALITY_DASHBOARD_PATH).")
def quality_dashboard(warehouse: DuckDBWarehouseResource) -> dg.MaterializeResult:
    # Reads the snapshot, which no writer holds: outside the writer pool.
    with warehouse.read_snapshot() as con:
        path, data = write_dashboard(con, warehouse.dashboard_file())
    csv_path, table_path = anomaly_files(path)
    return dg.MaterializeResult(metadata={
        "dashboard": dg.MetadataValue.url(path.as_uri()),
        "path": dg.MetadataValue.path(str(path)),
        "anomalies_table": dg.MetadataValue.url(table_path.as_uri()),
        "anomalies_csv": dg.MetadataValue.path(str(csv_path)),
        "open_anomalies": data["anomalies_open"],
        "anomalies_shown": len(data["anomalies"]),
        "anomalies_in_window": data["anomalies_total"],
        "partial_days": len(data["partial_days"]),
        "recommendations": data["recommendations"]["available"],
        **{f"{name.replace('-', '_')}_points": n for name, n in chart_points(data).items()},
    })


dashboard_job = dg.define_asset_job("quality_dashboard_job", selection=[quality_dashboard])

dashboard_daily = dg.ScheduleDefinition(
    name="quality_dashboard_daily", job=dashboard_job, cron_schedule="15 1 * * *", execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every day at 01:15 UTC: redraw the dashboard (it also follows the marts as they update).",
)
