"""The quality dashboard: one self-contained HTML file drawn from the marts.

It opens offline from disk (no BI tool, no external script or font): ``dashboard_assets/``
holds the page, its style and the script drawing inline SVG from the embedded JSON. Drawn
charts get ``data-rendered``/``data-marks`` and script errors land on ``<body data-errors>``,
which the browser test reads. The charts are described in docs/dashboards.md.
"""

import json
from datetime import UTC, date, datetime
from importlib import resources
from pathlib import Path
from string import Template

import duckdb

CHARTS = ("error-rate", "top-fields", "latency", "anomalies")


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict]:
    cur = con.execute(sql)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row)) for row in cur.fetchall()]


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}


def load_dashboard_data(con: duckdb.DuckDBPyConnection, *, days: int = 90) -> dict:
    """The numbers behind each chart (the same queries as docs/dashboards.md)."""
    have = _tables(con)
    data: dict = {"error_rate": [], "top_fields": [], "latency": [], "anomalies": []}
    if "marketplace_quality_daily" in have:
        data["error_rate"] = _rows(con, f"""
            SELECT day, marketplace, sum(records_error) / nullif(sum(records_total), 0) AS error_rate
            FROM marketplace_quality_daily
            WHERE day > (SELECT max(day) FROM marketplace_quality_daily) - INTERVAL {int(days)} DAY
            GROUP BY ALL ORDER BY day, marketplace""")
    if "field_error_hotspots" in have:
        data["top_fields"] = _rows(con, """
            SELECT marketplace || ' · ' || name AS label, sum(errors) AS errors
            FROM field_error_hotspots
            WHERE kind = 'field' AND day > (SELECT max(day) FROM field_error_hotspots) - INTERVAL 7 DAY
            GROUP BY ALL ORDER BY errors DESC, label LIMIT 10""")
    if "region_latency_daily" in have:
        data["latency"] = _rows(con, """
            SELECT region, processing_p50_ms AS p50, processing_p95_ms AS p95, processing_p99_ms AS p99
            FROM region_latency_daily
            WHERE marketplace = '(all)' AND day = (SELECT max(day) FROM region_latency_daily)
            ORDER BY region""")
    if "quality_anomalies" in have:
        data["anomalies"] = _rows(con, """
            SELECT day, partition_key, metric, direction, value, baseline, score
            FROM quality_anomalies
            WHERE day > (SELECT max(day) FROM quality_anomaly_scores) - INTERVAL 7 DAY
            ORDER BY day DESC, abs(score) DESC""")
    return data


def _json_default(value: object) -> object:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return float(value)  # Decimal and numpy numbers


def _asset(name: str) -> str:
    return resources.files(__package__).joinpath("dashboard_assets", name).read_text(encoding="utf-8")


def render_dashboard(data: dict, *, generated: datetime | None = None) -> str:
    payload = json.dumps(data, default=_json_default).replace("</", "<\\/")
    stamp = (generated or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    return Template(_asset("page.html")).substitute(
        generated=stamp, data=payload, style=_asset("dashboard.css"), script=_asset("dashboard.js"))


def write_dashboard(con: duckdb.DuckDBPyConnection, path: Path | str) -> tuple[Path, dict]:
    path = Path(path)
    data = load_dashboard_data(con)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(render_dashboard(data), encoding="utf-8")
    tmp.replace(path)  # readers never see half a page
    return path, data
