"""What the Superset dashboards show: datasets (tables and virtual SQL) with their saved metrics,
the charts in dashboard order, and the dashboards with their native filter's default.

Only definitions: ``build_assets.py`` turns them into Superset objects through the REST API and
exports them to ``bi/exports/`` (the files ``make bi`` imports). Change a chart here, rebuild, and
commit the exports' diff (docs/dashboards.md, "Changing a chart").
"""

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
       h.avg_prev_7d, h.trend_vs_prev_7d,
       -- the day as shown: flagged when no complete day was there to choose (e.g. right after make demo)
       strftime(h.day, '%Y-%m-%d') || CASE WHEN h.is_partial THEN ' (partial)' ELSE '' END AS day_shown
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
           "share": "share of errors", "relative_change": "change", "training_points": "training days",
           "day_shown": "day"}


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
                  ["name", "marketplace", "errors", "share", "trend_vs_prev_7d", "day_shown"],
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
