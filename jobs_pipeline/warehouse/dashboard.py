"""The quality dashboard: one self-contained HTML file drawn from the marts.

Why a static file: it opens from disk or any file server, offline, with no BI tool running
and no external scripts or fonts (system font stack, inline SVG drawn by a small inline
script from an embedded JSON document). Each chart's container gets
``data-rendered="true"`` and ``data-marks=<n>`` once drawn (``"empty"`` when there is no
data), and script errors are recorded on ``<body data-errors>``, which is what the browser
test reads.

Charts: error rate over time by marketplace (line), top failing fields over the last 7
days (bars), latency percentiles by region on the latest day (grouped bars), and the open
anomalies of the last 7 days (bars of |score| plus a table).
"""

import json
from datetime import UTC, date, datetime
from pathlib import Path

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


_SCRIPT = r"""
(function () {
  const NS = 'http://www.w3.org/2000/svg';
  const COLORS = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#4b5563', '#ca8a04'];
  const W = 560, H = 260, M = {l: 64, r: 16, t: 16, b: 48};
  function el(name, attrs, parent, text) {
    const node = document.createElementNS(NS, name);
    for (const k in attrs) node.setAttribute(k, attrs[k]);
    if (text !== undefined) node.textContent = text;
    if (parent) parent.appendChild(node);
    return node;
  }
  function svgIn(container) {
    return el('svg', {viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: 'img'}, container);
  }
  function done(container, marks) {
    container.dataset.rendered = marks > 0 ? 'true' : 'empty';
    container.dataset.marks = String(marks);
    if (marks === 0) container.appendChild(document.createTextNode('No data yet.'));
  }
  function axes(svg, yMax, fmt) {
    el('line', {x1: M.l, y1: H - M.b, x2: W - M.r, y2: H - M.b, stroke: '#999'}, svg);
    el('line', {x1: M.l, y1: M.t, x2: M.l, y2: H - M.b, stroke: '#999'}, svg);
    for (let i = 0; i <= 4; i++) {
      const y = H - M.b - (H - M.t - M.b) * i / 4;
      el('text', {x: M.l - 6, y: y + 4, 'text-anchor': 'end', 'font-size': 10}, svg, fmt(yMax * i / 4));
    }
  }
  const pct = v => (v * 100).toFixed(1) + '%';

  function lineChart(container, rows) {
    if (!rows.length) return done(container, 0);
    const svg = svgIn(container);
    const days = [...new Set(rows.map(r => r.day))].sort();
    const yMax = Math.max(...rows.map(r => r.error_rate || 0)) * 1.1 || 1;
    axes(svg, yMax, pct);
    const x = d => M.l + (W - M.l - M.r) * (days.length > 1 ? days.indexOf(d) / (days.length - 1) : 0.5);
    const y = v => H - M.b - (H - M.t - M.b) * (v || 0) / yMax;
    const byMkt = {};
    rows.forEach(r => (byMkt[r.marketplace] = byMkt[r.marketplace] || []).push(r));
    let marks = 0;
    Object.keys(byMkt).sort().forEach((m, i) => {
      const pts = byMkt[m].map(r => `${x(r.day).toFixed(1)},${y(r.error_rate).toFixed(1)}`).join(' ');
      const line = el('polyline', {points: pts, fill: 'none', stroke: COLORS[i % COLORS.length], 'stroke-width': 1.8,
                                   class: 'series'}, svg);
      el('title', {}, line, m);
      byMkt[m].forEach(r => {  // a dot per day: a single day is still visible
        const dot = el('circle', {cx: x(r.day).toFixed(1), cy: y(r.error_rate).toFixed(1), r: 3,
                                  fill: COLORS[i % COLORS.length]}, svg);
        el('title', {}, dot, `${m} ${r.day}: ${pct(r.error_rate || 0)}`);
      });
      el('text', {x: M.l + 8 + i * 120, y: H - 8, fill: COLORS[i % COLORS.length], 'font-size': 11}, svg, '■ ' + m);
      marks++;
    });
    el('text', {x: M.l, y: H - M.b + 14, 'font-size': 10}, svg, days[0]);
    el('text', {x: W - M.r, y: H - M.b + 14, 'font-size': 10, 'text-anchor': 'end'}, svg, days[days.length - 1]);
    done(container, marks);
  }

  function barChart(container, rows, label, value, fmt) {
    if (!rows.length) return done(container, 0);
    const svg = svgIn(container);
    const max = Math.max(...rows.map(value)) || 1;
    const left = 240, bh = Math.min(28, (H - 20) / rows.length);
    rows.forEach((r, i) => {
      const w = (W - left - 60) * value(r) / max;
      const bar = el('rect', {x: left, y: 10 + i * bh, width: Math.max(w, 1), height: bh * 0.7,
                              fill: COLORS[0], class: 'bar'}, svg);
      el('title', {}, bar, `${label(r)}: ${fmt(value(r))}`);
      el('text', {x: left - 6, y: 10 + i * bh + bh * 0.5, 'text-anchor': 'end', 'font-size': 10}, svg, label(r));
      el('text', {x: left + w + 4, y: 10 + i * bh + bh * 0.5, 'font-size': 10}, svg, fmt(value(r)));
    });
    done(container, rows.length);
  }

  function groupedBars(container, rows) {
    if (!rows.length) return done(container, 0);
    const svg = svgIn(container);
    const keys = ['p50', 'p95', 'p99'];
    const max = Math.max(...rows.flatMap(r => keys.map(k => r[k] || 0))) * 1.1 || 1;
    axes(svg, max, v => v.toFixed(0) + ' ms');
    const gw = (W - M.l - M.r) / rows.length, bw = gw * 0.8 / keys.length;
    let marks = 0;
    rows.forEach((r, i) => {
      keys.forEach((k, j) => {
        const h = (H - M.t - M.b) * (r[k] || 0) / max;
        const bar = el('rect', {x: M.l + i * gw + gw * 0.1 + j * bw, y: H - M.b - h, width: bw - 2, height: h,
                                fill: COLORS[j], class: 'bar'}, svg);
        el('title', {}, bar, `${r.region} ${k}: ${(r[k] || 0).toFixed(0)} ms`);
        marks++;
      });
      el('text', {x: M.l + i * gw + gw / 2, y: H - M.b + 14, 'text-anchor': 'middle', 'font-size': 11}, svg, r.region);
    });
    keys.forEach((k, j) => el('text', {x: M.l + j * 60, y: H - 8, fill: COLORS[j], 'font-size': 11}, svg, '■ ' + k));
    done(container, marks);
  }

  function anomalies(container, rows) {
    barChart(container, rows, r => `${r.day.slice(5)} ${r.partition_key} ${r.metric}`, r => Math.abs(r.score),
             v => v.toFixed(1));
    const table = document.getElementById('anomaly-table');
    rows.forEach(r => {
      const tr = table.insertRow();
      [r.day, r.partition_key, r.metric, r.direction, r.value.toPrecision(4), r.baseline.toPrecision(4),
       r.score.toFixed(1)].forEach(v => (tr.insertCell().textContent = v));
    });
  }

  const data = JSON.parse(document.getElementById('dashboard-data').textContent);
  lineChart(document.getElementById('error-rate'), data.error_rate);
  barChart(document.getElementById('top-fields'), data.top_fields, r => r.label, r => r.errors, v => String(v));
  groupedBars(document.getElementById('latency'), data.latency);
  anomalies(document.getElementById('anomalies'), data.anomalies);
  document.body.dataset.ready = 'true';
})();
"""

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Feed quality dashboard</title>
<style>
 body {{ font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 24px; color: #111; }}
 main {{ display: grid; grid-template-columns: repeat(auto-fit, minmax(580px, 1fr)); gap: 20px; }}
 section {{ border: 1px solid #ddd; border-radius: 8px; padding: 12px; }}
 h2 {{ font-size: 15px; margin: 0 0 8px; }} table {{ border-collapse: collapse; font-size: 12px; }}
 td, th {{ border-bottom: 1px solid #eee; padding: 2px 6px; text-align: left; }}
</style></head>
<body data-errors="">
<script>window.addEventListener('error', function (e) {{
  document.body.dataset.errors += (e.message || 'error') + '\\n'; }});</script>
<h1>Feed quality</h1><p>Generated {generated} from the DuckDB marts (UTC days).</p>
<main>
<section><h2>Error rate by marketplace</h2><div class="chart" id="error-rate"></div></section>
<section><h2>Top failing fields (last 7 days)</h2><div class="chart" id="top-fields"></div></section>
<section><h2>Processing time percentiles by region (latest day)</h2><div class="chart" id="latency"></div></section>
<section><h2>Open anomalies (last 7 days)</h2><div class="chart" id="anomalies"></div>
<table id="anomaly-table"><tr><th>day</th><th>partition key</th><th>metric</th><th>direction</th>
<th>value</th><th>baseline</th><th>score</th></tr></table></section>
</main>
<script type="application/json" id="dashboard-data">{data}</script>
<script>{script}</script>
</body></html>
"""


def render_dashboard(data: dict, *, generated: datetime | None = None) -> str:
    payload = json.dumps(data, default=_json_default).replace("</", "<\\/")
    stamp = (generated or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    return _PAGE.format(generated=stamp, data=payload, script=_SCRIPT)


def write_dashboard(con: duckdb.DuckDBPyConnection, path: Path | str) -> tuple[Path, dict]:
    path = Path(path)
    data = load_dashboard_data(con)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(render_dashboard(data), encoding="utf-8")
    tmp.replace(path)  # readers never see half a page
    return path, data
