"""Rebuild the Superset dashboards of ``dashboard_spec.py`` and export them to ``bi/exports/``.

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
from dashboard_spec import (  # noqa: E402
    DASHBOARDS, DATABASE_NAME, DATASETS, DAYS_DEFAULT, DAYS_FILTER_NAME, HEADERS, VIRTUAL,
)


def days_filter(placed: list[tuple[dict, int, str]]) -> dict:
    """The native filter's configuration (dashboard json_metadata) for the charts ``placed``."""
    charts = [(item, chart_id) for item, chart_id, _ in placed if item["kind"] == "chart"]
    return {
        "id": "NATIVE_FILTER-days", "name": DAYS_FILTER_NAME, "filterType": "filter_time", "type": "NATIVE_FILTER",
        "description": "Days shown by the daily charts (default: the last 90, today included)",
        "targets": [{}], "controlValues": {"enableEmptyFilter": False}, "cascadeParentIds": [],
        "defaultDataMask": {"extraFormData": {"time_range": DAYS_DEFAULT}, "filterState": {"value": DAYS_DEFAULT},
                            "ownState": {}},
        # ids: the import maps "excluded" to the new install's; the page recomputes chartsInScope from it
        "scope": {"rootPath": ["ROOT_ID"], "excluded": [i for item, i in charts if not item["time_axis"]]},
        "chartsInScope": [i for item, i in charts if item["time_axis"]], "tabsInScope": [],
    }


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


def _filters(chart: dict, filters: list) -> tuple[list[dict], list[dict]]:
    """(adhoc_filters of the form data, filters of the query context)."""
    adhoc, query = [], []
    if chart["time_axis"]:
        adhoc.append({"clause": "WHERE", "subject": chart["x_axis"], "operator": "TEMPORAL_RANGE",
                      "comparator": "No filter", "expressionType": "SIMPLE"})
        query.append({"col": chart["x_axis"], "op": "TEMPORAL_RANGE", "val": "No filter"})
    for column, op, value in filters:
        adhoc.append({"clause": "WHERE", "subject": column, "operator": op, "comparator": value,
                      "expressionType": "SIMPLE"})
        query.append({"col": column, "op": op, "val": value})
    return adhoc, query


def _query(chart: dict, metrics: list, groupby: list, filters: list) -> dict:
    """One query object of a timeseries chart's query context."""
    _, query_filters = _filters(chart, filters)
    axis = {"columnType": "BASE_AXIS", "sqlExpression": chart["x_axis"], "label": chart["x_axis"],
            "expressionType": "SQL"}
    if chart["time_axis"]:
        axis["timeGrain"] = "P1D"
    return {
        "filters": query_filters, "extras": {"having": "", "where": "",
                                             **({"time_grain_sqla": "P1D"} if chart["time_axis"] else {})},
        "applied_time_extras": {}, "columns": [axis, *groupby], "metrics": metrics,
        "orderby": [[metrics[0], False]], "annotation_layers": [], "row_limit": 10000,
        "series_columns": groupby, "series_limit": 0, "order_desc": True, "url_params": {},
        "custom_params": {}, "custom_form_data": {}, "time_offsets": [], "post_processing": [],
    }


def _table_form_and_context(chart: dict, dataset_id: int) -> tuple[dict, dict]:
    adhoc, query_filters = _filters(chart, chart["filters"])
    order = [json.dumps([column, ascending]) for column, ascending in chart["order_by"]]
    form = {
        "datasource": f"{dataset_id}__table", "viz_type": "table", "query_mode": "raw",
        "all_columns": chart["columns"], "order_by_cols": order, "adhoc_filters": adhoc,
        "row_limit": chart["row_limit"], "server_page_length": 10, "server_pagination": False,
        "order_desc": True, "table_timestamp_format": "%Y-%m-%d", "include_search": False,
        "show_cell_bars": False, "color_pn": False, "allow_rearrange_columns": False,
        "column_config": {c: {**({"d3NumberFormat": chart["formats"][c]} if c in chart["formats"] else {}),
                              **({"customColumnName": HEADERS[c]} if c in HEADERS else {})}
                          for c in chart["columns"] if c in chart["formats"] or c in HEADERS},
        "conditional_formatting": [], "extra_form_data": {},
    }
    context = {
        "datasource": {"id": dataset_id, "type": "table"}, "force": False,
        "queries": [{
            "filters": query_filters, "extras": {"having": "", "where": ""}, "applied_time_extras": {},
            # no "metrics" at all: Superset groups by the columns when the key is there (even empty)
            "columns": chart["columns"], "orderby": [list(o) for o in chart["order_by"]],
            "annotation_layers": [], "row_limit": chart["row_limit"], "series_limit": 0, "order_desc": True,
            "url_params": {}, "custom_params": {}, "custom_form_data": {}, "time_offsets": [],
            "post_processing": [],
        }],
        "form_data": form, "result_format": "json", "result_type": "full",
    }
    return form, context


def form_and_context(chart: dict, dataset_id: int) -> tuple[dict, dict]:
    if chart["viz"] == "table":
        return _table_form_and_context(chart, dataset_id)
    adhoc, _ = _filters(chart, chart["filters"])
    form = {
        "datasource": f"{dataset_id}__table", "viz_type": chart["viz"], "x_axis": chart["x_axis"],
        "metrics": chart["metrics"], "groupby": chart["groupby"], "adhoc_filters": adhoc,
        "row_limit": 10000, "order_desc": True, "truncate_metric": True, "show_empty_columns": True,
        "comparison_type": "values", "annotation_layers": [], "show_legend": True, "legendType": "scroll",
        "legendOrientation": "top", "rich_tooltip": True, "color_scheme": "supersetColors",
        "x_axis_sort_asc": True, "extra_form_data": {},
    }
    if chart["time_axis"]:
        form.update(time_grain_sqla="P1D", x_axis_time_format="%Y-%m-%d", tooltipTimeFormat="%Y-%m-%d")
    else:
        form.update(x_axis_sort=chart["metrics"][0], x_axis_sort_asc=False)
    queries = [_query(chart, chart["metrics"], chart["groupby"], chart["filters"])]
    if "b" in chart:  # mixed chart: query B's fields end in _b
        b = chart["b"]
        form.update(metrics_b=b["metrics"], groupby_b=b["groupby"], adhoc_filters_b=_filters(chart, b["filters"])[0],
                    row_limit_b=10000, order_desc_b=True, truncate_metric_b=True, yAxisIndex=0, yAxisIndexB=0)
        queries.append(_query(chart, b["metrics"], b["groupby"], b["filters"]))
    form.update(chart["extra"])
    context = {"datasource": {"id": dataset_id, "type": "table"}, "force": False, "queries": queries,
               "form_data": form, "result_format": "json", "result_type": "full"}
    return form, context


def position(title: str, items: list[tuple[dict, int, str]]) -> dict:
    """The dashboard layout: ``items`` (definition, chart id or 0, chart uuid) fill rows of width 12."""
    layout = {"DASHBOARD_VERSION_KEY": "v2",
              "ROOT_ID": {"type": "ROOT", "id": "ROOT_ID", "children": ["GRID_ID"]},
              "GRID_ID": {"type": "GRID", "id": "GRID_ID", "children": [], "parents": ["ROOT_ID"]},
              "HEADER_ID": {"id": "HEADER_ID", "type": "HEADER", "meta": {"text": title}}}
    row, used = None, 12
    for n, (item, chart_id, uuid) in enumerate(items, 1):
        if used + item["width"] > 12:
            row, used = f"ROW-{len(layout['GRID_ID']['children']) + 1}", 0
            layout["GRID_ID"]["children"].append(row)
            layout[row] = {"type": "ROW", "id": row, "children": [], "parents": ["ROOT_ID", "GRID_ID"],
                           "meta": {"background": "BACKGROUND_TRANSPARENT"}}
        used += item["width"]
        if item["kind"] == "markdown":
            key = f"MARKDOWN-{n}"
            layout[key] = {"type": "MARKDOWN", "id": key, "children": [], "parents": ["ROOT_ID", "GRID_ID", row],
                           "meta": {"width": item["width"], "height": item["height"], "code": item["text"]}}
        else:
            key = f"CHART-{chart_id}"
            layout[key] = {"type": "CHART", "id": key, "children": [], "parents": ["ROOT_ID", "GRID_ID", row],
                           "meta": {"width": item["width"], "height": item["height"], "chartId": chart_id,
                                    "uuid": uuid, "sliceName": item["name"]}}
        layout[row]["children"].append(key)
    return layout


def build(api: Api, snapshot: Path) -> list[int]:
    """Create the database, datasets, charts and dashboards; return the dashboards' ids."""
    database = api.call("POST", "/api/v1/database/", json={
        "database_name": DATABASE_NAME, "sqlalchemy_uri": snapshot_uri(snapshot), "expose_in_sqllab": True,
        "allow_dml": False, "allow_file_upload": False, "allow_ctas": False, "allow_cvas": False})["id"]
    datasets = {}
    for table, metrics in DATASETS.items():
        body = {"database": database, "schema": "main", "table_name": table}
        if table in VIRTUAL:
            body["sql"] = VIRTUAL[table].strip()
        dataset = api.call("POST", "/api/v1/dataset/", json=body)["id"]
        if metrics:
            api.call("PUT", f"/api/v1/dataset/{dataset}", json={"metrics": [
                {"metric_name": name, "expression": sql, "verbose_name": label, "d3format": fmt}
                for name, (sql, label, fmt) in metrics.items()]})
        datasets[table] = dataset
    made = []
    for title, slug, items, filtered in DASHBOARDS:
        dashboard = api.call("POST", "/api/v1/dashboard/", json={
            "dashboard_title": title, "slug": slug, "published": True})["id"]
        placed = []
        for item in items:
            if item["kind"] == "markdown":
                placed.append((item, 0, ""))
                continue
            form, context = form_and_context(item, datasets[item["table"]])
            created = api.call("POST", "/api/v1/chart/", json={
                "slice_name": item["name"], "viz_type": item["viz"], "datasource_id": datasets[item["table"]],
                "datasource_type": "table", "params": json.dumps(form), "query_context": json.dumps(context),
                "dashboards": [dashboard]})
            uuid = api.call("GET", f"/api/v1/chart/{created['id']}")["result"].get("uuid") or ""
            placed.append((item, created["id"], uuid))
        api.call("PUT", f"/api/v1/dashboard/{dashboard}", json={
            "position_json": json.dumps(position(title, placed)),
            "json_metadata": json.dumps({"color_scheme": "supersetColors", "refresh_frequency": 0,
                                         "timed_refresh_immune_slices": [], "expanded_slices": {},
                                         "label_colors": {}, "cross_filters_enabled": False,
                                         "native_filter_configuration": [days_filter(placed)] if filtered
                                                                        else []})})
        made.append(dashboard)
    return made


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


def export(api: Api, dashboards: list[int], snapshot: Path) -> list[str]:
    """Replace bi/exports with the dashboards' bundle. Objects already in the old export keep
    their UUIDs (matched by kind and name), so a rebuild diffs only what changed."""
    old = _uuids({p.relative_to(EXPORTS).as_posix(): p.read_text(encoding="utf-8")
                  for p in EXPORTS.rglob("*.yaml")}) if EXPORTS.exists() else {}
    response = api.session.get(f"{api.url}/api/v1/dashboard/export/",
                               params={"q": f"!({','.join(map(str, dashboards))})"}, timeout=120)
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
    dashboards = build(api, snapshot)
    for name in export(api, dashboards, snapshot):
        print(f"bi/exports/{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
