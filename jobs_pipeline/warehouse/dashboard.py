"""The quality dashboard: one self-contained HTML file drawn from the marts.

It opens offline from disk (no BI tool, no external script or font): ``dashboard_assets/``
holds the page, its style and the script drawing inline SVG from the embedded JSON. Drawn
charts get ``data-rendered``/``data-marks`` and script errors land on ``<body data-errors>``,
which the browser test reads. The charts and the queries behind them are described in
docs/dashboards.md.

What the page must not do is mislead: a UTC day that had not ended when its mart was refreshed
is *partial* (its volume looks like a drop), so every series flags it. The marts say so in an
``is_partial`` column; a snapshot older than that column is judged by the clock instead
(``day >= today``, UTC, with ``now`` injectable), and both are honoured when the column exists.
The anomaly list shows the top :data:`TOP_ANOMALIES`; the full table is written beside the page
(CSV and a plain HTML table) and linked from it.
"""

import csv
import html
import json
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from importlib import resources
from pathlib import Path
from string import Template

import duckdb

#: The chart containers of the page (``<div class="chart" id=...>``), in page order.
CHARTS = ("fix-first", "error-rate", "latency", "hotspots", "anomalies")
#: Error-rate views: one small multiple per dimension of the partition key.
DIMENSIONS = ("marketplace", "region", "category")
TOP_ANOMALIES = 20
#: Lines per small multiple; the smaller keys are folded into one "other" line.
MAX_SERIES = 8
TOP_HOTSPOTS = 12
HOTSPOT_HISTORY_DAYS = 14
TOP_RECOMMENDATIONS = 3
TOP_LATENCY_OUTLIERS = 10
ALL_MARKETPLACES = "(all)"
ANOMALY_COLUMNS = ("day", "partition_key", "marketplace", "category", "region", "metric", "direction",
                   "value", "baseline", "score", "relative_change", "threshold", "training_points",
                   "anomaly_id")


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: dict | None = None) -> list[dict]:
    cur = con.execute(sql, params or {})
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row)) for row in cur.fetchall()]


def _columns(con: duckdb.DuckDBPyConnection) -> dict[str, set[str]]:
    """Every table and view of the main schema with its column names."""
    out: dict[str, set[str]] = defaultdict(set)
    for table, column in con.execute(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'main'").fetchall():
        out[table].add(column)
    return out


class _Partial:
    """Which rows are partial: the mart's ``is_partial`` when it has one, or a day not yet over."""

    def __init__(self, columns: dict[str, set[str]], today: date) -> None:
        self.columns, self.today = columns, today

    def expr(self, table: str) -> str:
        return "bool_or(is_partial)" if "is_partial" in self.columns.get(table, ()) else "false"

    def __call__(self, day: date, flagged: bool | None) -> bool:
        return bool(flagged) or day >= self.today


def _window_start(con: duckdb.DuckDBPyConnection, table: str, days: int) -> date | None:
    latest = con.execute(f"SELECT max(day) FROM {table}").fetchall()[0][0]
    return None if latest is None else latest - timedelta(days=days - 1)


def _error_rate(con, partial: _Partial, start: date) -> dict[str, list[dict]]:
    """Per dimension, one row per day and key: records, errors, record-weighted error rate."""
    out = {}
    for dim in DIMENSIONS:
        rows = _rows(con, f"""
            SELECT day, {dim} AS key, sum(jobs) AS jobs, sum(records_total) AS records_total,
                   sum(records_error) AS records_error, {partial.expr('marketplace_quality_daily')} AS flagged
            FROM marketplace_quality_daily WHERE day >= $start GROUP BY ALL ORDER BY day, key""", {"start": start})
        volume: dict[str, int] = defaultdict(int)
        for r in rows:
            volume[r["key"]] += int(r["records_total"] or 0)
        kept = set(sorted(volume, key=lambda k: (-volume[k], k))[:MAX_SERIES - 1 if len(volume) > MAX_SERIES else None])
        merged: dict[tuple, dict] = {}
        for r in rows:
            key = r["key"] if r["key"] in kept else f"other ({len(volume) - len(kept)})"
            m = merged.setdefault((r["day"], key), {"day": r["day"], "key": key, "jobs": 0, "records_total": 0,
                                                    "records_error": 0, "flagged": False})
            for k in ("jobs", "records_total", "records_error"):
                m[k] += int(r[k] or 0)
            m["flagged"] = m["flagged"] or bool(r["flagged"])
        series = []
        for m in merged.values():
            flagged = m.pop("flagged")
            m["error_rate"] = m["records_error"] / m["records_total"] if m["records_total"] else None
            m["is_partial"] = partial(m["day"], flagged)
            series.append(m)
        out[dim] = sorted(series, key=lambda m: (m["day"], m["key"]))
    return out


def _anomaly_marks(anomalies: list[dict], series: dict[str, list[dict]]) -> dict[str, list[dict]]:
    """Anomalies of partition keys placed on the series they belong to (a key's marketplace, region
    and category line of that day), so the chart can mark them where they happened."""
    out = {}
    for dim, rows in series.items():
        shown = {(r["day"], r["key"]) for r in rows}
        others = {r["key"] for r in rows if r["key"].startswith("other (")}
        marks: dict[tuple, dict] = {}
        for a in anomalies:
            key = a[dim]
            if (a["day"], key) not in shown:
                key = next(iter(others), key)
            m = marks.setdefault((a["day"], key, a["metric"]), {
                "day": a["day"], "key": key, "metric": a["metric"], "count": 0, "max_abs_score": 0.0,
                "partition_keys": []})
            m["count"] += 1
            m["max_abs_score"] = max(m["max_abs_score"], abs(a["score"] or 0.0))
            if len(m["partition_keys"]) < 5:
                m["partition_keys"].append(f"{a['partition_key']} {a['direction']}")
        out[dim] = sorted(marks.values(), key=lambda m: (m["day"], m["key"], m["metric"]))
    return out


def _latency(con, partial: _Partial, start: date) -> list[dict]:
    rows = _rows(con, f"""
        SELECT day, region, sum(jobs) AS jobs,
               any_value(processing_p50_ms) AS processing_p50_ms, any_value(processing_p95_ms) AS processing_p95_ms,
               any_value(latency_p50_ms) AS latency_p50_ms, any_value(latency_p95_ms) AS latency_p95_ms,
               {partial.expr('region_latency_daily')} AS flagged
        FROM region_latency_daily WHERE marketplace = '{ALL_MARKETPLACES}' AND day >= $start
        GROUP BY ALL ORDER BY day, region""", {"start": start})
    for r in rows:
        r["is_partial"] = partial(r["day"], r.pop("flagged"))
    return rows


def _hotspots(con, partial: _Partial) -> dict:
    """The latest complete day's top fields and rules: errors, share, trend, and 14 days of history."""
    day, is_partial = _latest_day(con, "field_error_hotspots", partial)
    if day is None:
        return {"day": None, "is_partial": False, "field": [], "rule": []}
    out: dict = {"day": day, "is_partial": is_partial}
    for kind in ("field", "rule"):
        top = _rows(con, f"""
            SELECT marketplace, ruleset, name, errors, jobs_affected, share, rank, avg_prev_7d, trend_vs_prev_7d
            FROM field_error_hotspots WHERE day = $day AND kind = $kind
            ORDER BY errors DESC, marketplace, ruleset, name LIMIT {TOP_HOTSPOTS}""", {"day": day, "kind": kind})
        history = defaultdict(dict)
        for mkt, rs, name, d, n in con.execute("""
                SELECT marketplace, ruleset, name, day, errors FROM field_error_hotspots
                WHERE kind = $kind AND day BETWEEN $start AND $day""",
                {"kind": kind, "start": day - timedelta(days=HOTSPOT_HISTORY_DAYS - 1), "day": day}).fetchall():
            history[(mkt, rs, name)][d] = int(n)
        for r in top:
            past = history[(r["marketplace"], r["ruleset"], r["name"])]
            r["history"] = [past.get(day - timedelta(days=i), 0) for i in range(HOTSPOT_HISTORY_DAYS - 1, -1, -1)]
        out[kind] = top
    return out


def _anomalies(con, start: date, have: dict[str, set[str]]) -> list[dict]:
    cols = ", ".join(c for c in ANOMALY_COLUMNS if c in have["quality_anomalies"])
    return _rows(con, f"""SELECT {cols} FROM quality_anomalies WHERE day >= $start
                          ORDER BY day DESC, abs(score) DESC, partition_key, metric""", {"start": start})


def _latest_day(con, table: str, partial: _Partial) -> tuple[date | None, bool]:
    """The newest complete day of ``table`` (the newest day, flagged, when none is complete)."""
    days = [(d, partial(d, f)) for d, f in con.execute(
        f"SELECT day, {partial.expr(table)} FROM {table} GROUP BY day ORDER BY day DESC LIMIT 3").fetchall()]
    return next(((d, p) for d, p in days if not p), days[0] if days else (None, False))


def _recommendations(con, have: dict[str, set[str]], partial: _Partial) -> dict:
    """What to fix first, from ``quality_recommendations`` and ``latency_outliers``
    (jobs_pipeline/warehouse/recommendations.py) of their newest complete day: per key the top
    rules by the records fixing that rule alone would make valid, and the regions whose p95
    latency is furthest above their marketplace's. Snapshots older than those tables have
    ``available`` false."""
    out: dict = {"available": "quality_recommendations" in have, "day": None, "is_partial": False,
                 "rules": [], "latency": [], "latency_day": None}
    if out["available"]:
        out["day"], out["is_partial"] = _latest_day(con, "quality_recommendations", partial)
    if out["day"] is not None:
        out["rules"] = _rows(con, f"""
            SELECT marketplace, category, region, partition_key, rule, rank, sole_errors, errors,
                   records_total, records_error, error_rate, error_rate_if_fixed, feeds, feeds_affected,
                   feeds_affected_share, feeds_unmeasured, avg_prev_7d, trend_vs_prev_7d
            FROM quality_recommendations WHERE day = $day
            QUALIFY row_number() OVER (PARTITION BY partition_key ORDER BY rank, rule) <= {TOP_RECOMMENDATIONS}
            ORDER BY max(sole_errors) OVER (PARTITION BY partition_key) DESC, partition_key, rank, rule""",
            {"day": out["day"]})
    if "latency_outliers" in have:
        out["latency_day"], _ = _latest_day(con, "latency_outliers", partial)
    if out["latency_day"] is not None:
        out["latency"] = _rows(con, f"""
            SELECT marketplace, region, jobs, latency_p95_ms, marketplace_latency_p95_ms, excess_ms,
                   excess_ratio, rank
            FROM latency_outliers WHERE day = $day AND excess_ms > 0
            ORDER BY excess_ms DESC, marketplace, region LIMIT {TOP_LATENCY_OUTLIERS}""", {"day": out["latency_day"]})
    return out


def load_dashboard_data(con: duckdb.DuckDBPyConnection, *, days: int = 90, now: datetime | None = None) -> dict:
    """The numbers behind each chart (the queries of docs/dashboards.md), ``days`` back from each
    mart's latest day. ``now`` (UTC) decides which days are partial when a mart has no ``is_partial``."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    have = _columns(con)
    partial = _Partial(have, now.date())
    data: dict = {
        "generated": now, "today": now.date(), "days": days,
        "error_rate": {dim: [] for dim in DIMENSIONS}, "anomaly_marks": {dim: [] for dim in DIMENSIONS},
        "latency": [], "hotspots": {"day": None, "is_partial": False, "field": [], "rule": []},
        "anomalies": [], "anomalies_total": 0, "anomalies_open": 0, "anomalies_window": [],
        "recommendations": _recommendations(con, have, partial), "partial_days": [],
    }
    if "marketplace_quality_daily" in have and (start := _window_start(con, "marketplace_quality_daily", days)):
        data["error_rate"] = _error_rate(con, partial, start)
    if "region_latency_daily" in have and (start := _window_start(con, "region_latency_daily", days)):
        data["latency"] = _latency(con, partial, start)
    if "field_error_hotspots" in have:
        data["hotspots"] = _hotspots(con, partial)
    if "quality_anomalies" in have and (start := _window_start(con, "quality_anomaly_scores", days)):
        every = _anomalies(con, start, have)
        recent = _window_start(con, "quality_anomaly_scores", 7)
        open_ = sorted((a for a in every if a["day"] >= recent), key=lambda a: (-abs(a["score"] or 0), a["day"]))
        data["anomalies_window"] = every  # the full table (written beside the page, not embedded)
        data["anomalies_total"], data["anomalies_open"] = len(every), len(open_)
        data["anomalies"] = open_[:TOP_ANOMALIES]
        data["anomaly_marks"] = _anomaly_marks(every, data["error_rate"]) if data["error_rate"]["marketplace"] \
            else data["anomaly_marks"]
    data["partial_days"] = sorted({r["day"] for rows in data["error_rate"].values() for r in rows if r["is_partial"]}
                                  | {r["day"] for r in data["latency"] if r["is_partial"]}
                                  | ({data["hotspots"]["day"]} if data["hotspots"]["is_partial"] else set()))
    return data


def chart_points(data: dict) -> dict[str, int]:
    """Rows behind each chart (asset metadata)."""
    return {
        "fix-first": len(data["recommendations"]["rules"]) + len(data["recommendations"]["latency"]),
        "error-rate": sum(len(rows) for rows in data["error_rate"].values()),
        "latency": len(data["latency"]),
        "hotspots": len(data["hotspots"]["field"]) + len(data["hotspots"]["rule"]),
        "anomalies": len(data["anomalies"]),
    }


def _json_default(value: object) -> object:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return float(value)  # Decimal and numpy numbers


def _asset(name: str) -> str:
    return resources.files(__package__).joinpath("dashboard_assets", name).read_text(encoding="utf-8")


def anomaly_files(path: Path) -> tuple[Path, Path]:
    """Where the full anomaly table goes beside the page at ``path`` (CSV, plain HTML)."""
    return path.with_name(f"{path.stem}_anomalies.csv"), path.with_name(f"{path.stem}_anomalies.html")


def render_dashboard(data: dict, *, anomalies_href: str = "", anomalies_csv_href: str = "") -> str:
    page = {k: v for k, v in data.items() if k != "anomalies_window"}  # the full table lives beside the page
    page["links"] = {"anomalies_html": anomalies_href, "anomalies_csv": anomalies_csv_href}
    payload = json.dumps(page, default=_json_default, separators=(",", ":")).replace("</", "<\\/")
    stamp = data["generated"].strftime("%Y-%m-%d %H:%M UTC")
    return Template(_asset("page.html")).substitute(
        generated=stamp, data=payload, style=_asset("dashboard.css"), script=_asset("dashboard.js"))


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return "" if value is None else str(value)


def render_anomaly_table(data: dict) -> str:
    """Every anomaly of the window as one static HTML table (no script), newest first."""
    rows = data["anomalies_window"]
    cols = [c for c in ANOMALY_COLUMNS if not rows or c in rows[0]]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = "\n".join("<tr>" + "".join(f"<td>{html.escape(_fmt(r.get(c)))}</td>" for c in cols) + "</tr>"
                     for r in rows)
    style = _asset("dashboard.css")
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>All anomalies</title>'
            f"<style>{style}</style></head><body><h1>All anomalies, last {data['days']} days</h1>"
            f"<p>{len(rows)} anomalies, generated {data['generated']:%Y-%m-%d %H:%M UTC}. "
            f"Newest day first, then by |score|.</p><table class=\"full\"><tr>{head}</tr>\n{body}</table>"
            "</body></html>")


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)  # readers never see half a file


def write_dashboard(con: duckdb.DuckDBPyConnection, path: Path | str, *,
                    now: datetime | None = None) -> tuple[Path, dict]:
    """Write the page at ``path`` and the full anomaly table beside it; return the page's path and data."""
    path = Path(path)
    data = load_dashboard_data(con, now=now)
    path.parent.mkdir(parents=True, exist_ok=True)
    csv_path, table_path = anomaly_files(path)
    tmp = csv_path.with_name(f".{csv_path.name}.tmp")
    with tmp.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        cols = [c for c in ANOMALY_COLUMNS if not data["anomalies_window"] or c in data["anomalies_window"][0]]
        writer.writerow(cols)
        writer.writerows([_fmt(r.get(c)) for c in cols] for r in data["anomalies_window"])
    tmp.replace(csv_path)
    _write(table_path, render_anomaly_table(data))
    _write(path, render_dashboard(data, anomalies_href=table_path.name, anomalies_csv_href=csv_path.name))
    return path, data
