"""Rebuild the "Feed quality" dashboard from the definitions below and export it to ``bi/exports/``.

A developer tool for large changes (small ones: edit the chart in the UI and export it, or edit
the YAML; see docs/dashboards.md). It talks to a running Superset through its REST API, creates
the database connection, the datasets (with their saved metrics), the charts and the dashboard,
then downloads the dashboard's export bundle and writes it to ``bi/exports/`` with the snapshot's
path replaced by ``{{QUALITY_SNAPSHOT_PATH}}`` (``bootstrap.py`` fills it in at import)::

    .venv-bi/bin/python bi/build_assets.py --url http://127.0.0.1:8088 --snapshot /abs/quality.snapshot.duckdb

Use it on a scratch Superset (an empty ``SUPERSET_HOME`` set up with ``bootstrap.py --skip-import``):
it creates new objects with new UUIDs each time.
"""

import argparse
import io
import json
import os
import shutil
import sys
import zipfile
from pathlib import Path

import requests

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bootstrap import EXPORTS, SNAPSHOT_PLACEHOLDER, snapshot_uri  # noqa: E402

DATABASE_NAME = "Quality snapshot (read-only)"
DASHBOARD_TITLE = "Feed quality"

#: Saved metrics per dataset (table of the snapshot): name -> (SQL, verbose name, d3 format).
DATASETS = {
    "marketplace_quality_daily": {
        "error_rate": ("SUM(records_error) * 1.0 / NULLIF(SUM(records_total), 0)", "error rate", ".2%"),
        "records": ("SUM(records_total)", "records", ",d"),
        "jobs": ("SUM(jobs)", "jobs", ",d"),
    },
    "field_error_hotspots": {
        "errors": ("SUM(errors)", "error records", ",d"),
    },
    "region_latency_daily": {
        "p50_latency_ms": ("MAX(latency_p50_ms)", "p50 latency (ms)", ",.0f"),
        "p95_latency_ms": ("MAX(latency_p95_ms)", "p95 latency (ms)", ",.0f"),
    },
    "quality_anomaly_scores": {
        "verdicts": ("COUNT(*)", "verdicts", ",d"),
    },
    "quality_anomalies": {
        "max_abs_score": ("MAX(ABS(score))", "max |score|", ",.1f"),
    },
    "quality_recommendations": {
        "records_fixed": ("SUM(sole_errors)", "records fixing it alone makes valid", ",d"),
        "records_failing": ("SUM(errors)", "records failing it", ",d"),
    },
    "latency_outliers": {
        "p95_excess_ms": ("AVG(excess_ms)", "p95 above the marketplace's (ms)", ",.0f"),
    },
}


def _chart(name, viz, table, x_axis, metrics, groupby, filters=(), *, time_axis=True, **extra):
    return dict(name=name, viz=viz, table=table, x_axis=x_axis, metrics=list(metrics),
                groupby=list(groupby), filters=list(filters), time_axis=time_axis, extra=extra)


#: The charts, in dashboard order (two per row). ``filters``: (column, operator, value).
CHARTS = [
    _chart("Error rate by marketplace", "echarts_timeseries_line", "marketplace_quality_daily",
           "day", ["error_rate"], ["marketplace"], y_axis_format=".1%", markerEnabled=True, markerSize=6),
    _chart("Error rate by region", "echarts_timeseries_line", "marketplace_quality_daily",
           "day", ["error_rate"], ["region"], y_axis_format=".1%", markerEnabled=True, markerSize=6),
    _chart("Error rate by category", "echarts_timeseries_line", "marketplace_quality_daily",
           "day", ["error_rate"], ["category"], y_axis_format=".1%", markerEnabled=True, markerSize=6),
    _chart("Field error hot spots", "echarts_timeseries_bar", "field_error_hotspots",
           "name", ["errors"], ["marketplace"], [("kind", "==", "field")], time_axis=False, stack="Stack"),
    _chart("Rule error hot spots", "echarts_timeseries_bar", "field_error_hotspots",
           "name", ["errors"], ["marketplace"], [("kind", "==", "rule")], time_axis=False, stack="Stack"),
    _chart("p50 / p95 latency by region", "echarts_timeseries_line", "region_latency_daily",
           "day", ["p50_latency_ms", "p95_latency_ms"], ["region"], [("marketplace", "==", "(all)")],
           markerEnabled=True, markerSize=6),
    _chart("Volume: records by marketplace", "echarts_timeseries_bar", "marketplace_quality_daily",
           "day", ["records"], ["marketplace"], stack="Stack"),
    _chart("Anomalies (|score| by partition key)", "echarts_timeseries_scatter", "quality_anomalies",
           "day", ["max_abs_score"], ["partition_key"], markerSize=10),
    _chart("Anomaly verdicts per day", "echarts_timeseries_bar", "quality_anomaly_scores",
           "day", ["verdicts"], ["status"], stack="Stack"),
    _chart("What to fix first: records each rule alone would make valid", "echarts_timeseries_bar",
           "quality_recommendations", "rule", ["records_fixed", "records_failing"], [], time_axis=False),
    _chart("Latency outliers: regions' p95 above their marketplace's", "echarts_timeseries_bar",
           "latency_outliers", "region", ["p95_excess_ms"], ["marketplace"], time_axis=False),
]


class Api:
    def __init__(self, url: str, username: str, password: str):
        self.url = url.rstrip("/")
        self.session = requests.Session()
        token = self.session.post(f"{self.url}/api/v1/security/login", json={
            "username": username, "password": password, "provider": "db", "refresh": False}, timeout=60)
        token.raise_for_status()
        self.session.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        csrf = self.session.get(f"{self.url}/api/v1/security/csrf_token/", timeout=60)
        csrf.raise_for_status()
        self.session.headers["X-CSRFToken"] = csrf.json()["result"]
        self.session.headers["Referer"] = self.url

    def call(self, method: str, path: str, **kwargs) -> dict:
        response = self.session.request(method, f"{self.url}{path}", timeout=120, **kwargs)
        if response.status_code >= 400:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:500]}")
        return response.json() if response.content else {}


def _filters(chart: dict) -> tuple[list[dict], list[dict]]:
    """(adhoc_filters of the form data, filters of the query context)."""
    adhoc, query = [], []
    if chart["time_axis"]:
        adhoc.append({"clause": "WHERE", "subject": chart["x_axis"], "operator": "TEMPORAL_RANGE",
                      "comparator": "No filter", "expressionType": "SIMPLE"})
        query.append({"col": chart["x_axis"], "op": "TEMPORAL_RANGE", "val": "No filter"})
    for column, op, value in chart["filters"]:
        adhoc.append({"clause": "WHERE", "subject": column, "operator": op, "comparator": value,
                      "expressionType": "SIMPLE"})
        query.append({"col": column, "op": op, "val": value})
    return adhoc, query


def form_and_context(chart: dict, dataset_id: int) -> tuple[dict, dict]:
    adhoc, query_filters = _filters(chart)
    form = {
        "datasource": f"{dataset_id}__table", "viz_type": chart["viz"], "x_axis": chart["x_axis"],
        "metrics": chart["metrics"], "groupby": chart["groupby"], "adhoc_filters": adhoc,
        "row_limit": 10000, "order_desc": True, "truncate_metric": True, "show_empty_columns": True,
        "comparison_type": "values", "annotation_layers": [], "show_legend": True, "legendType": "scroll",
        "legendOrientation": "top", "rich_tooltip": True, "color_scheme": "supersetColors",
        "x_axis_sort_asc": True, "extra_form_data": {},
    }
    axis = {"columnType": "BASE_AXIS", "sqlExpression": chart["x_axis"], "label": chart["x_axis"],
            "expressionType": "SQL"}
    if chart["time_axis"]:
        form.update(time_grain_sqla="P1D", x_axis_time_format="%Y-%m-%d", tooltipTimeFormat="%Y-%m-%d")
        axis["timeGrain"] = "P1D"
    else:
        form.update(x_axis_sort=chart["metrics"][0], x_axis_sort_asc=False)
    form.update(chart["extra"])
    context = {
        "datasource": {"id": dataset_id, "type": "table"}, "force": False,
        "queries": [{
            "filters": query_filters, "extras": {"having": "", "where": "",
                                                 **({"time_grain_sqla": "P1D"} if chart["time_axis"] else {})},
            "applied_time_extras": {}, "columns": [axis, *chart["groupby"]], "metrics": chart["metrics"],
            "orderby": [[chart["metrics"][0], False]], "annotation_layers": [], "row_limit": 10000,
            "series_columns": chart["groupby"], "series_limit": 0, "order_desc": True, "url_params": {},
            "custom_params": {}, "custom_form_data": {}, "time_offsets": [], "post_processing": [],
        }],
        "form_data": form, "result_format": "json", "result_type": "full",
    }
    return form, context


def position(charts: list[tuple[int, str, str]]) -> dict:
    layout = {"DASHBOARD_VERSION_KEY": "v2",
              "ROOT_ID": {"type": "ROOT", "id": "ROOT_ID", "children": ["GRID_ID"]},
              "GRID_ID": {"type": "GRID", "id": "GRID_ID", "children": [], "parents": ["ROOT_ID"]},
              "HEADER_ID": {"id": "HEADER_ID", "type": "HEADER", "meta": {"text": DASHBOARD_TITLE}}}
    for start in range(0, len(charts), 2):
        row = f"ROW-{start // 2 + 1}"
        layout["GRID_ID"]["children"].append(row)
        layout[row] = {"type": "ROW", "id": row, "children": [], "parents": ["ROOT_ID", "GRID_ID"],
                       "meta": {"background": "BACKGROUND_TRANSPARENT"}}
        for chart_id, uuid, name in charts[start:start + 2]:
            key = f"CHART-{chart_id}"
            layout[row]["children"].append(key)
            layout[key] = {"type": "CHART", "id": key, "children": [], "parents": ["ROOT_ID", "GRID_ID", row],
                           "meta": {"width": 6, "height": 50, "chartId": chart_id, "uuid": uuid,
                                    "sliceName": name}}
    return layout


def build(api: Api, snapshot: Path) -> int:
    database = api.call("POST", "/api/v1/database/", json={
        "database_name": DATABASE_NAME, "sqlalchemy_uri": snapshot_uri(snapshot), "expose_in_sqllab": True,
        "allow_dml": False, "allow_file_upload": False, "allow_ctas": False, "allow_cvas": False})["id"]
    datasets = {}
    for table, metrics in DATASETS.items():
        dataset = api.call("POST", "/api/v1/dataset/", json={"database": database, "schema": "main",
                                                              "table_name": table})["id"]
        api.call("PUT", f"/api/v1/dataset/{dataset}", json={"metrics": [
            {"metric_name": name, "expression": sql, "verbose_name": label, "d3format": fmt}
            for name, (sql, label, fmt) in metrics.items()]})
        datasets[table] = dataset
    dashboard = api.call("POST", "/api/v1/dashboard/", json={
        "dashboard_title": DASHBOARD_TITLE, "slug": "feed-quality", "published": True})["id"]
    placed = []
    for chart in CHARTS:
        form, context = form_and_context(chart, datasets[chart["table"]])
        created = api.call("POST", "/api/v1/chart/", json={
            "slice_name": chart["name"], "viz_type": chart["viz"], "datasource_id": datasets[chart["table"]],
            "datasource_type": "table", "params": json.dumps(form), "query_context": json.dumps(context),
            "dashboards": [dashboard]})
        uuid = api.call("GET", f"/api/v1/chart/{created['id']}")["result"].get("uuid") or ""
        placed.append((created["id"], uuid, chart["name"]))
    api.call("PUT", f"/api/v1/dashboard/{dashboard}", json={
        "position_json": json.dumps(position(placed)),
        "json_metadata": json.dumps({"color_scheme": "supersetColors", "refresh_frequency": 0,
                                     "timed_refresh_immune_slices": [], "expanded_slices": {},
                                     "label_colors": {}, "cross_filters_enabled": False,
                                     "native_filter_configuration": []})})
    return dashboard


def _uuids(files: dict[str, str]) -> dict[tuple[str, str], str]:
    """(kind, name) -> uuid of each object in an export bundle (path inside it -> YAML)."""
    import yaml

    names = {"databases": "database_name", "datasets": "table_name", "charts": "slice_name",
             "dashboards": "dashboard_title"}
    found = {}
    for path, text in files.items():
        kind = path.split("/", 1)[0]
        if kind in names:
            doc = yaml.safe_load(text)
            found[(kind, doc[names[kind]])] = doc["uuid"]
    return found


def export(api: Api, dashboard: int, snapshot: Path) -> list[str]:
    """Replace bi/exports with the dashboard's bundle. Objects already in the old export keep
    their UUIDs (matched by kind and name), so a rebuild diffs only what changed."""
    old = _uuids({p.relative_to(EXPORTS).as_posix(): p.read_text(encoding="utf-8")
                  for p in EXPORTS.rglob("*.yaml")}) if EXPORTS.exists() else {}
    response = api.session.get(f"{api.url}/api/v1/dashboard/export/", params={"q": f"!({dashboard})"}, timeout=120)
    response.raise_for_status()
    with zipfile.ZipFile(io.BytesIO(response.content)) as bundle:
        files = {name.split("/", 1)[1]: bundle.read(name).decode("utf-8")  # drop the dated root folder
                 for name in bundle.namelist()}
    renames = {new: old[key] for key, new in _uuids(files).items() if key in old}
    shutil.rmtree(EXPORTS, ignore_errors=True)
    for inner, text in files.items():
        text = text.replace(str(snapshot), SNAPSHOT_PLACEHOLDER)
        for new, kept in renames.items():
            text = text.replace(new, kept)
        target = EXPORTS / inner
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return sorted(files)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=f"http://127.0.0.1:{os.environ.get('SUPERSET_PORT', '8088')}")
    parser.add_argument("--snapshot", required=True, type=Path)
    args = parser.parse_args()
    api = Api(args.url, os.environ.get("SUPERSET_ADMIN_USERNAME") or "admin",
              os.environ.get("SUPERSET_ADMIN_PASSWORD") or "admin")
    snapshot = args.snapshot.expanduser().resolve()
    dashboard = build(api, snapshot)
    for name in export(api, dashboard, snapshot):
        print(f"bi/exports/{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
