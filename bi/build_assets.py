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

TOP_ANOMALIES = 20
TOP_HOTSPOTS = 12

#: Virtual (SQL) datasets: name -> query on the snapshot. A mixed chart's two queries share one
#: dataset, so the marker series (anomalies, partial days) need the error rates and the anomalies
#: in the same rows; the hot-spot and anomaly tables need a day or a rank chosen in SQL.
VIRTUAL = {
    # marketplace_quality_daily with the anomaly count of each (day, partition key): the rule of the
    # offline page's _anomaly_marks (a key's anomaly marks its marketplace, region and category line).
    # records_stack_top: the day's records of the marketplaces up to this one by name, i.e. the top of
    # its segment in the volume chart's bars (stacked in that order: VOLUME_SORT).
    "quality_daily_marked": """
SELECT q.day, q.marketplace, q.region, q.category, q.partition_key, q.jobs, q.records_total,
       q.records_error, q.is_partial,
       sum(q.records_total) OVER (PARTITION BY q.day ORDER BY q.marketplace) AS records_stack_top,
       coalesce(a.error_rate_anomalies, 0) AS error_rate_anomalies,
       coalesce(a.records_anomalies, 0) AS records_anomalies
FROM marketplace_quality_daily q
LEFT JOIN (SELECT day, partition_key,
                  count(*) FILTER (WHERE metric = 'error_rate') AS error_rate_anomalies,
                  count(*) FILTER (WHERE metric = 'records_total') AS records_anomalies
           FROM quality_anomalies GROUP BY day, partition_key) a
       ON a.day = q.day AND a.partition_key = q.partition_key""",
    # One row per day, region, marketplace and percentile: one line per (region, percentile).
    "region_latency_percentiles": """
SELECT day, region, marketplace, 'p50' AS percentile, latency_p50_ms AS latency_ms, is_partial
FROM region_latency_daily
UNION ALL
SELECT day, region, marketplace, 'p95' AS percentile, latency_p95_ms AS latency_ms, is_partial
FROM region_latency_daily""",
    # The offline page's _latest_day: the newest complete day among the 3 newest (else the newest);
    # its top TOP_HOTSPOTS of each kind, bounded here rather than by the chart's row limit (a table
    # whose rows reach its row limit shows Superset's "limit reached" warning).
    "hotspots_newest_complete_day": f"""
WITH recent AS (SELECT day, bool_or(is_partial) AS partial FROM field_error_hotspots
                GROUP BY day ORDER BY day DESC LIMIT 3),
     chosen AS (SELECT coalesce((SELECT max(day) FROM recent WHERE NOT partial),
                                (SELECT max(day) FROM recent)) AS day)
SELECT h.day, h.kind, h.marketplace, h.ruleset, h.name, h.errors, h.jobs_affected, h.share, h.rank,
       h.avg_prev_7d, h.trend_vs_prev_7d
FROM field_error_hotspots h JOIN chosen USING (day)
QUALIFY row_number() OVER (PARTITION BY h.kind ORDER BY h.errors DESC, h.marketplace, h.ruleset, h.name)
        <= {TOP_HOTSPOTS}""",
    # Every anomaly with |score| to rank by.
    "anomalies_by_score": """
SELECT day, partition_key, marketplace, category, region, metric, direction, value, baseline, score,
       abs(score) AS abs_score, relative_change, threshold, training_points, anomaly_id
FROM quality_anomalies""",
    # The open anomalies table: the TOP_ANOMALIES strongest by |score| of the newest 7 judged days,
    # bounded here (not by the row limit: no "limit reached" warning).
    "open_anomalies_strongest": f"""
SELECT day, partition_key, metric, direction, value, baseline, score, abs(score) AS abs_score
FROM quality_anomalies
WHERE day > (SELECT max(day) FROM quality_anomaly_scores) - 7
QUALIFY row_number() OVER (ORDER BY abs(score) DESC, day DESC, partition_key, metric) <= {TOP_ANOMALIES}""",
}

_RATE = "SUM(records_error) * 1.0 / NULLIF(SUM(records_total), 0)"
#: Marker series names: the legend shows a metric's name as it is. In a mixed chart with a
#: group-by, Superset 6.1 prefixes a query-B series with the query's first metric unless the series
#: name already contains it, so the partial-day marker's name contains "anomaly".
ANOMALY = "anomaly"
PARTIAL_RATE = "partial day (still filling, no anomaly check)"
PARTIAL = "partial day (still filling)"
VOLUME_ANOMALY = "volume anomaly"
PARTIAL_VOLUME = "partial day (still filling, no volume anomaly check)"
#: The volume chart stacks its bars by marketplace name, bottom up: records_stack_top relies on it.
VOLUME_SORT = {"sortSeriesType": "name", "sortSeriesAscending": True}

#: Saved metrics per dataset (table of the snapshot or VIRTUAL): name -> (SQL, verbose name, d3 format).
DATASETS = {
    "quality_daily_marked": {
        "error_rate": (_RATE, "error rate", ".2%"),
        "records": ("SUM(records_total)", "records", ",d"),
        ANOMALY: (f"CASE WHEN SUM(error_rate_anomalies) > 0 THEN {_RATE} END", ANOMALY, ".2%"),
        PARTIAL_RATE: (f"CASE WHEN BOOL_OR(is_partial) THEN {_RATE} END", PARTIAL_RATE, ".2%"),
        # at the top of the marketplace's stack segment (one marketplace per series: MAX is its value)
        VOLUME_ANOMALY: ("CASE WHEN SUM(records_anomalies) > 0 THEN MAX(records_stack_top) END", VOLUME_ANOMALY,
                         ",d"),
        PARTIAL_VOLUME: ("CASE WHEN BOOL_OR(is_partial) THEN MAX(records_stack_top) END", PARTIAL_VOLUME, ",d"),
    },
    "region_latency_percentiles": {
        "latency_ms": ("MAX(latency_ms)", "latency (ms)", ",.0f"),
        PARTIAL: ("CASE WHEN BOOL_OR(is_partial) THEN MAX(latency_ms) END", PARTIAL, ",.0f"),
    },
    "hotspots_newest_complete_day": {},
    "anomalies_by_score": {},
    "open_anomalies_strongest": {},
    "quality_anomaly_scores": {
        "verdicts": ("COUNT(*)", "verdicts", ",d"),
    },
    "quality_recommendations": {
        "records_fixed": ("SUM(sole_errors)", "records fixing it alone makes valid", ",d"),
        "records_failing": ("SUM(errors)", "records failing it", ",d"),
    },
    "latency_outliers": {
        "p95_excess_ms": ("AVG(excess_ms)", "p95 above the marketplace's (ms)", ",.0f"),
    },
}


def _chart(name, viz, table, x_axis, metrics, groupby, filters=(), *, time_axis=True, width=6, height=50,
           **extra):
    return dict(kind="chart", name=name, viz=viz, table=table, x_axis=x_axis, metrics=list(metrics),
                groupby=list(groupby), filters=list(filters), time_axis=time_axis, width=width,
                height=height, extra=extra)


def _marked(name, table, metrics, groupby, markers, markers_groupby, filters=(), **extra):
    """A mixed chart: query A the series (lines or bars), query B big scatter markers on them."""
    chart = _chart(name, "mixed_timeseries", table, "day", metrics, groupby, filters, **extra)
    chart["b"] = dict(metrics=list(markers), groupby=list(markers_groupby), filters=list(filters))
    return chart


def _table(name, table, columns, order_by, filters=(), *, row_limit=10000, formats=None, width=6, height=50):
    """A table chart of raw rows: ``order_by`` (column, ascending) pairs, ``formats`` column -> d3 format;
    headers from HEADERS. Bound a top-N in the dataset's SQL, not with ``row_limit``: rows reaching the
    row limit make Superset show a "limit reached" warning."""
    return dict(kind="chart", name=name, viz="table", table=table, columns=list(columns),
                order_by=list(order_by), filters=list(filters), row_limit=row_limit,
                formats=dict(formats or {}), time_axis=False, width=width, height=height)


#: Table headers shown instead of column names.
HEADERS = {"partition_key": "partition key", "trend_vs_prev_7d": "trend vs prev. 7 days",
           "share": "share of errors", "relative_change": "change", "training_points": "training days"}


def _markdown(text, *, width, height):
    return dict(kind="markdown", text=text.strip(), width=width, height=height)


def _error_rate(dimension):
    return _marked(f"Error rate by {dimension}", "quality_daily_marked", ["error_rate"], [dimension],
                   [ANOMALY, PARTIAL_RATE], [dimension], y_axis_format=".1%", y_axis_format_secondary=".1%",
                   markerEnabled=False, seriesType="line", seriesTypeB="scatter",
                   markerEnabledB=True, markerSizeB=14)


ANOMALIES_SLUG = "feed-quality-anomalies"
HOTSPOT_FORMATS = {"errors": ",d", "share": ".1%", "trend_vs_prev_7d": "+.0%"}
ANOMALY_FORMATS = {"value": ",.4~r", "baseline": ",.4~r", "score": ".1f", "relative_change": "+.0%",
                   "threshold": ".1f", "training_points": ",d"}


def _hotspots(kind):
    return _table(f"{kind.capitalize()} error hot spots: newest complete day, share and trend",
                  "hotspots_newest_complete_day",
                  ["name", "marketplace", "errors", "share", "trend_vs_prev_7d", "day"],
                  [("errors", False), ("marketplace", True), ("ruleset", True), ("name", True)],
                  [("kind", "==", kind)], formats=HOTSPOT_FORMATS, height=62)


#: The "Feed quality" dashboard, in order; rows fill up to width 12.
CHARTS = [
    _error_rate("marketplace"),
    _error_rate("region"),
    _error_rate("category"),
    _marked("p50 / p95 latency by region", "region_latency_percentiles", ["latency_ms"], ["region", "percentile"],
            [PARTIAL], [], [("marketplace", "==", "(all)")], y_axis_format=",.0f", y_axis_format_secondary=",.0f",
            markerEnabled=False, seriesType="line", seriesTypeB="scatter", markerEnabledB=True,
            markerSizeB=14),
    _hotspots("field"),
    _hotspots("rule"),
    _table(f"Open anomalies: the {TOP_ANOMALIES} strongest by |score| (last 7 days)", "open_anomalies_strongest",
           ["day", "partition_key", "metric", "direction", "value", "baseline", "score"],
           [("abs_score", False), ("day", False), ("partition_key", True), ("metric", True)],
           formats=ANOMALY_FORMATS, width=8, height=90),
    _markdown(f"""
#### Reading this dashboard

**Open anomalies**: the table shows the {TOP_ANOMALIES} strongest of the last 7 judged days.
**[All anomalies, every day →](/superset/dashboard/{ANOMALIES_SLUG}/)**

**Error rate**: a big dot named *{ANOMALY}, …* marks a day on which a partition key of that line
(marketplace, region or category) had an error-rate anomaly. **Volume**: *{VOLUME_ANOMALY}, …* on
top of a marketplace's bar segment, a volume anomaly of one of its keys.

**Partial days**: a UTC day not over when the snapshot was taken (`is_partial`) is still filling:
its volume looks like a drop and the detector does not judge it. The daily charts mark it with a
*partial day* dot.

**Days** (filter bar): the daily charts show the last 90 days, today included, unless you change
it; the tables and the two bottom charts (every day) ignore it.

**Hot spots**: the newest complete day; *share* of the marketplace's errors of that kind, *trend* vs
the average of the previous 7 days (N/A: no errors then, a new hot spot).
""", width=4, height=90),
    _marked("Volume: records by marketplace", "quality_daily_marked", ["records"], ["marketplace"],
            [VOLUME_ANOMALY, PARTIAL_VOLUME], ["marketplace"], seriesType="bar", stack=True, seriesTypeB="scatter",
            markerEnabledB=True, markerSizeB=14, y_axis_format=",d", y_axis_format_secondary=",d", **VOLUME_SORT),
    _chart("Anomaly verdicts per day", "echarts_timeseries_bar", "quality_anomaly_scores",
           "day", ["verdicts"], ["status"], stack="Stack"),
    _chart("What to fix first: records each rule alone would make valid", "echarts_timeseries_bar",
           "quality_recommendations", "rule", ["records_fixed", "records_failing"], [], time_axis=False),
    _chart("Latency outliers: regions' p95 above their marketplace's", "echarts_timeseries_bar",
           "latency_outliers", "region", ["p95_excess_ms"], ["marketplace"], time_axis=False),
]

#: The full anomaly list, its own dashboard so its link (by slug) works on every install.
ANOMALY_CHARTS = [
    _markdown("""
**Every anomaly** (`quality_anomalies`), newest day first, then by |score|.
[← Feed quality](/superset/dashboard/feed-quality/)
""", width=12, height=12),
    _table("All anomalies (newest day first)", "anomalies_by_score",
           ["day", "partition_key", "marketplace", "category", "region", "metric", "direction", "value",
            "baseline", "score", "relative_change", "threshold", "training_points"],
           [("day", False), ("abs_score", False), ("partition_key", True), ("metric", True)],
           formats=ANOMALY_FORMATS, width=12, height=120),
]

#: The "Feed quality" dashboard's native time-range filter: by default the last 90 days up to and
#: including today (the partial day; "today" is the Superset server's date), so years of history do
#: not crowd the daily charts. Its scope is the charts with a time axis: the tables choose their days
#: in SQL, the two aggregate charts keep every day.
DAYS_FILTER_NAME = "Days"
DAYS_DEFAULT = "DATEADD(DATETIME('today'), -89, day) : DATEADD(DATETIME('today'), 1, day)"

#: (title, slug, items, with the days filter)
DASHBOARDS = [
    (DASHBOARD_TITLE, "feed-quality", CHARTS, True),
    ("Feed quality: all anomalies", ANOMALIES_SLUG, ANOMALY_CHARTS, False),
]


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
