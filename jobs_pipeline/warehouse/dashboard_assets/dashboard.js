(function () {
  // Draws every chart from the embedded JSON as inline SVG and HTML tables: no network, no library.
  // Each chart container gets data-rendered ('true' or 'empty') and counts the browser test reads.
  const NS = 'http://www.w3.org/2000/svg';
  const COLORS = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#4b5563', '#ca8a04'];
  const data = JSON.parse(document.getElementById('dashboard-data').textContent);

  function el(name, attrs, parent, text) {
    const node = document.createElementNS(NS, name);
    for (const k in attrs) node.setAttribute(k, attrs[k]);
    if (text !== undefined) node.textContent = text;
    if (parent) parent.appendChild(node);
    return node;
  }
  function h(tag, attrs, parent, text) {
    const node = document.createElement(tag);
    for (const k in attrs) node.setAttribute(k, attrs[k]);
    if (text !== undefined) node.textContent = text;
    if (parent) parent.appendChild(node);
    return node;
  }
  function done(container, marks, counts) {
    container.dataset.rendered = marks > 0 ? 'true' : 'empty';
    container.dataset.marks = String(marks);
    for (const k in counts || {}) container.dataset[k] = String(counts[k]);
  }
  function empty(container, text) {
    container.innerHTML = '';
    h('p', {class: 'empty'}, container, text || 'No data yet.');
    done(container, 0);
  }
  const pct = v => v == null ? '–' : (v * 100).toFixed(Math.abs(v) < 0.1 ? 2 : 1) + '%';
  const num = v => v == null ? '–' : Math.round(v).toLocaleString('en-US');
  const ms = v => v == null ? '–' : (v >= 10000 ? (v / 1000).toFixed(1) + ' s' : Math.round(v) + ' ms');
  const signed = v => (v > 0 ? '+' : v < 0 ? '−' : '') + pct(Math.abs(v));
  function niceMax(v) {
    if (!(v > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 1.2, 1.6, 2, 2.4, 3.2, 4, 6, 8, 10]) if (m * p >= v) return m * p;  // quarters stay round
    return 10 * p;
  }
  function textWidth(svg, text, size) {
    const t = el('text', {x: 0, y: 0, 'font-size': size}, svg, text);
    const w = t.getComputedTextLength();
    svg.removeChild(t);
    return w;
  }
  function trendCell(tr, trend, tooltip) {
    const td = tr.insertCell();
    td.className = 'num';
    if (trend == null) { h('span', {class: 'new', title: tooltip || 'none in the previous 7 days'}, td, 'new'); return; }
    const cls = trend > 0.05 ? 'up' : trend < -0.05 ? 'down' : '';
    h('span', {class: cls, title: tooltip || 'vs the average day of the previous 7 days'}, td,
      (trend > 0.05 ? '▲ ' : trend < -0.05 ? '▼ ' : '') + signed(trend));
  }
  function barCell(tr, value, max, text, color) {
    const td = tr.insertCell();
    const svg = el('svg', {width: 150, height: 12, viewBox: '0 0 150 12', style: 'vertical-align: middle'}, td);
    el('rect', {x: 0, y: 1, width: Math.max(1, 100 * (value || 0) / (max || 1)), height: 10, fill: color || COLORS[0],
                class: 'bar'}, svg);
    el('text', {x: 104, y: 10, 'font-size': 10}, svg, text);
  }
  function legend(panel, series) {
    const div = h('div', {class: 'legend'}, panel);
    series.forEach(s => {
      const span = h('span', {}, div);
      h('i', {class: 'swatch', style: `background:${s.color}` + (s.dash ? ';opacity:0.5' : '')}, span);
      span.appendChild(document.createTextNode(s.name));
    });
  }

  // A time series panel: lines (broken where a day has no value), partial days shaded, anomalies as red dots.
  function timeChart(panel, o) {
    const W = Math.max(280, Math.floor(o.width)), H = o.height;
    const svg = el('svg', {viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: 'img'}, panel);
    const values = o.series.flatMap(s => [...s.points.values()].filter(v => v != null));
    const yMax = o.yMax || niceMax(Math.max(0, ...values) * 1.05);
    const ticks = [0, 1, 2, 3, 4].map(i => yMax * i / 4);
    const left = Math.ceil(Math.max(...ticks.map(t => textWidth(svg, o.fmt(t), 10)))) + 10;
    const M = {l: left, r: 18, t: 8, b: 22};
    const n = o.days.length, plotW = W - M.l - M.r;
    const x = i => M.l + plotW * (n > 1 ? i / (n - 1) : 0.5);
    const y = v => H - M.b - (H - M.t - M.b) * v / yMax;
    const at = new Map(o.days.map((d, i) => [d, i]));
    ticks.forEach((t, i) => {
      el('line', {x1: M.l, x2: W - M.r, y1: y(t), y2: y(t), stroke: i ? '#eee' : '#999'}, svg);
      el('text', {x: M.l - 6, y: y(t) + 3.5, 'text-anchor': 'end', 'font-size': 10, fill: '#444'}, svg, o.fmt(t));
    });
    const step = n > 1 ? plotW / (n - 1) : 24;
    let partial = 0;
    o.days.forEach((d, i) => {
      if (!o.partial.has(d)) return;
      const band = el('rect', {x: x(i) - step / 2, y: M.t, width: step, height: H - M.t - M.b, fill: '#fde68a',
                               opacity: 0.7, class: 'partial-band', 'data-day': d}, svg);
      el('title', {}, band, `${d}: partial day (not over when refreshed)`);
      partial++;
    });
    const kept = [];  // 'MM-DD' labels, as many as fit without overlapping; the first and last always
    o.days.forEach((d, i) => {
      const w = textWidth(svg, d.slice(5), 10), anchor = i === 0 ? 'start' : i === n - 1 ? 'end' : 'middle';
      const lo = anchor === 'start' ? x(i) : anchor === 'end' ? x(i) - w : x(i) - w / 2;
      const label = {d, i, anchor, lo, hi: lo + w};
      while (i === n - 1 && kept.length > 1 && kept[kept.length - 1].hi + 8 > lo) kept.pop();
      if (!kept.length || kept[kept.length - 1].hi + 8 <= lo) kept.push(label);
    });
    kept.forEach(l => {
      el('text', {x: x(l.i), y: H - 6, 'text-anchor': l.anchor, 'font-size': 10, fill: '#444'}, svg, l.d.slice(5));
      el('line', {x1: x(l.i), x2: x(l.i), y1: H - M.b, y2: H - M.b + 3, stroke: '#999'}, svg);
    });
    let lines = 0;
    o.series.forEach(s => {
      let seg = [];
      const flush = () => {
        if (seg.length) {
          const line = el('polyline', {points: seg.join(' '), fill: 'none', stroke: s.color, 'stroke-width': 1.6,
                                       'stroke-dasharray': s.dash || 'none', class: 'series'}, svg);
          el('title', {}, line, s.name);
        }
        seg = [];
      };
      o.days.forEach((d, i) => {
        const v = s.points.get(d);
        if (v == null) return flush();
        seg.push(`${x(i).toFixed(1)},${y(v).toFixed(1)}`);
        if (n === 1 || o.partial.has(d)) {  // a lone day or a partial one: a dot, hollow when partial
          const dot = el('circle', {cx: x(i).toFixed(1), cy: y(v).toFixed(1), r: 3, fill: o.partial.has(d) ? '#fff' : s.color,
                                    stroke: s.color, 'stroke-width': 1.5}, svg);
          el('title', {}, dot, `${s.name} ${d}${o.partial.has(d) ? ' (partial)' : ''}: ${o.fmt(v)}`);
        }
      });
      flush();
      if (s.points.size) lines++;
    });
    let marks = 0;
    (o.marks || []).forEach(m => {
      const s = o.series.find(s => s.name === m.series);
      const v = s && s.points.get(m.day);
      if (v == null || !at.has(m.day)) return;
      const dot = el('circle', {cx: x(at.get(m.day)).toFixed(1), cy: y(v).toFixed(1), r: 5, fill: '#dc2626',
                                stroke: '#fff', 'stroke-width': 1.5, class: 'anomaly-mark'}, svg);
      el('title', {}, dot, `${m.series} ${m.day}: ${o.fmt(v)}, ${m.title}`);
      marks++;
    });
    return {lines, marks, partial};
  }

  function daysOf(rows) { return [...new Set(rows.map(r => r.day))].sort(); }
  function orderedKeys(rows) {
    const keys = [...new Set(rows.map(r => r.key))];
    return keys.sort((a, b) => (a.startsWith('other (') - b.startsWith('other (')) || a.localeCompare(b));
  }

  function drawErrorRate(metric) {
    const root = document.getElementById('error-rate');
    const dims = ['marketplace', 'region', 'category'];
    if (!dims.some(d => (data.error_rate[d] || []).length)) return empty(root);
    root.innerHTML = '';
    const grid = h('div', {class: 'grid'}, root);
    const fmt = metric === 'error_rate' ? pct : num;
    const total = {lines: 0, marks: 0, partial: 0};
    dims.forEach(dim => {
      const rows = data.error_rate[dim] || [];
      const panel = h('div', {class: 'panel', 'data-dimension': dim}, grid);
      h('h3', {}, panel, `by ${dim}`);
      const series = orderedKeys(rows).map((k, i) => ({
        name: k, color: COLORS[i % COLORS.length],
        points: new Map(rows.filter(r => r.key === k).map(r => [r.day, r[metric]]))}));
      const marks = (data.anomaly_marks[dim] || []).filter(m => m.metric === metric).map(m => ({
        day: m.day, series: m.key,
        title: `${m.count} anomal${m.count > 1 ? 'ies' : 'y'} (max |score| ${m.max_abs_score.toFixed(1)}): ` +
               m.partition_keys.join(', ')}));
      const got = timeChart(panel, {width: panel.clientWidth || 420, height: 230, days: daysOf(rows), series, fmt, marks,
                                    partial: new Set(rows.filter(r => r.is_partial).map(r => r.day))});
      panel.dataset.series = String(got.lines);
      panel.dataset.anomalyMarks = String(got.marks);
      legend(panel, series);
      for (const k in total) total[k] += got[k];
    });
    done(root, total.lines, {series: total.lines, anomalyMarks: total.marks, partialBands: total.partial,
                             metric: metric});
  }

  function drawLatency(kind) {
    const root = document.getElementById('latency');
    const rows = data.latency || [];
    if (!rows.length) return empty(root);
    root.innerHTML = '';
    const grid = h('div', {class: 'grid narrow'}, root);
    const days = daysOf(rows);
    const regions = [...new Set(rows.map(r => r.region))].sort();
    const p95 = `${kind}_p95_ms`, p50 = `${kind}_p50_ms`;
    const yMax = niceMax(Math.max(0, ...rows.map(r => r[p95] || 0)) * 1.05);  // one scale: regions compare
    const partial = new Set(rows.filter(r => r.is_partial).map(r => r.day));
    const total = {lines: 0, marks: 0, partial: 0};
    regions.forEach((region, i) => {
      const mine = rows.filter(r => r.region === region);
      const panel = h('div', {class: 'panel', 'data-region': region}, grid);
      const full = mine.filter(r => !r.is_partial);
      const latest = full.length ? full[full.length - 1] : mine[mine.length - 1];
      h('h3', {}, panel, `${region} — p95 ${ms(latest[p95])}, p50 ${ms(latest[p50])} on ${latest.day}` +
        (latest.is_partial ? ' (partial)' : ''));
      const color = COLORS[i % COLORS.length];
      const series = [
        {name: `${region} p95`, color, points: new Map(mine.map(r => [r.day, r[p95]]))},
        {name: `${region} p50`, color, dash: '5 3', points: new Map(mine.map(r => [r.day, r[p50]]))}];
      const got = timeChart(panel, {width: panel.clientWidth || 320, height: 170, days, series, fmt: ms, yMax,
                                    partial});
      panel.dataset.series = String(got.lines);
      for (const k in total) total[k] += got[k];
    });
    done(root, total.lines, {series: total.lines, regions: regions.length, partialBands: total.partial, metric: kind});
  }

  function sparkline(td, values, color) {
    const W = 120, H = 22, max = Math.max(1, ...values);
    const svg = el('svg', {width: W, height: H, viewBox: `0 0 ${W} ${H}`}, td);
    const pts = values.map((v, i) => `${(2 + (W - 4) * i / Math.max(1, values.length - 1)).toFixed(1)},` +
                                     `${(H - 2 - (H - 4) * v / max).toFixed(1)}`);
    el('polyline', {points: pts.join(' '), fill: 'none', stroke: color, 'stroke-width': 1.3}, svg);
    el('title', {}, svg, 'errors per day: ' + values.join(', '));
  }

  function drawHotspots(kind) {
    const root = document.getElementById('hotspots');
    const hs = data.hotspots || {};
    document.getElementById('hotspots-day').textContent = hs.day ?
      `— ${hs.day}` + (hs.is_partial ? ' (partial day: no complete day yet)' : ', the newest complete day') : '';
    const rows = hs[kind] || [];
    if (!rows.length) return empty(root);
    root.innerHTML = '';
    const table = h('table', {}, root);
    const head = table.insertRow();
    ['#', 'marketplace', kind, 'ruleset', 'errors', `share of the marketplace's ${kind} errors`,
     'vs previous 7 days', `last ${rows[0].history.length} days`].forEach((t, i) =>
      h('th', {class: i === 4 || i === 6 ? 'num' : ''}, head, t));
    rows.forEach((r, i) => {
      const tr = table.insertRow();
      tr.dataset.share = String(r.share);
      [String(i + 1), r.marketplace, r.name, r.ruleset].forEach(v => (tr.insertCell().textContent = v));
      const e = tr.insertCell(); e.className = 'num'; e.textContent = num(r.errors);
      barCell(tr, r.share, 1, pct(r.share), COLORS[0]);
      trendCell(tr, r.trend_vs_prev_7d, `avg ${r.avg_prev_7d.toFixed(1)} a day over the previous 7 days`);
      sparkline(tr.insertCell(), r.history, COLORS[0]);
    });
    done(root, rows.length, {rows: rows.length, kind});
  }

  function drawAnomalies() {
    const root = document.getElementById('anomalies');
    const rows = data.anomalies || [];
    const note = document.getElementById('anomalies-note');
    note.textContent = `${rows.length} shown of ${data.anomalies_open} in the last 7 days; every anomaly of the last ` +
                       `${data.days} days (${data.anomalies_total}): `;
    if (data.links.anomalies_html) h('a', {href: data.links.anomalies_html}, note, 'full table');
    if (data.links.anomalies_csv) {
      note.appendChild(document.createTextNode(' · '));
      h('a', {href: data.links.anomalies_csv}, note, 'CSV');
    }
    if (!rows.length) return empty(root, 'No anomalies in the last 7 days.');
    const partial = new Set(data.partial_days);
    const table = h('table', {}, root);
    const head = table.insertRow();
    ['day', 'partition key', 'metric', 'direction', 'value', 'baseline', 'change', '|score|'].forEach((t, i) =>
      h('th', {class: i >= 4 && i <= 6 ? 'num' : ''}, head, t));
    const max = Math.max(...rows.map(r => Math.abs(r.score || 0)));
    rows.forEach(r => {
      const tr = table.insertRow();
      const day = tr.insertCell(); day.textContent = r.day;
      if (partial.has(r.day)) h('span', {class: 'partial'}, day, 'partial');
      [r.partition_key, r.metric, r.direction].forEach(v => (tr.insertCell().textContent = v));
      const fmt = r.metric === 'error_rate' ? pct : num;
      [fmt(r.value), fmt(r.baseline), r.baseline ? signed(r.value / r.baseline - 1) : '–'].forEach(v => {
        const td = tr.insertCell(); td.className = 'num'; td.textContent = v;
      });
      barCell(tr, Math.abs(r.score || 0), max, Math.abs(r.score || 0).toFixed(1), '#dc2626');
    });
    done(root, rows.length, {rows: rows.length, total: data.anomalies_total});
  }

  function drawFixFirst(marketplace) {
    const root = document.getElementById('fix-first');
    const rec = data.recommendations || {};
    const when = document.getElementById('fix-first-day');
    if (!rec.available) {
      document.getElementById('fix-first-filter').parentNode.style.display = 'none';
      return empty(root, 'Not in this snapshot: quality_recommendations is produced by newer pipeline versions.');
    }
    when.textContent = rec.day ? `— ${rec.day}${rec.is_partial ? ' (partial day)' : ''}` : '';
    root.innerHTML = '';
    const byKey = new Map();
    rec.rules.filter(r => !marketplace || r.marketplace === marketplace)
      .forEach(r => (byKey.has(r.partition_key) ? byKey.get(r.partition_key) : byKey.set(r.partition_key, []).get(r.partition_key)).push(r));
    const keys = [...byKey.keys()].slice(0, 8);
    const grid = h('div', {class: 'keys'}, root);
    const max = Math.max(1, ...rec.rules.map(r => r.sole_errors));
    let ruleRows = 0;
    keys.forEach(key => {
      const rules = byKey.get(key);
      const card = h('div', {class: 'key', 'data-key': key}, grid);
      h('h3', {}, card, `${key} — error rate ${pct(rules[0].error_rate)}, ${num(rules[0].feeds)} feeds`);
      const table = h('table', {class: 'fix'}, card);
      const head = table.insertRow();
      [['#', 'rank by records fixed alone'], ['rule', 'error rule'],
       ['fixed alone', 'error records that fixing this rule alone would make valid'],
       ['failing', 'error records failing this rule (with or without other rules)'],
       ['feeds', "share of the key's feeds (jobs) with records failing this rule"],
       ['trend', 'records fixed alone vs the average day of the previous 7 days'],
       ['rate if fixed', 'the error rate if this rule alone were fixed']].forEach(([t, tip], i) =>
        h('th', {class: i >= 3 ? 'num' : '', title: tip}, head, t));
      rules.forEach(r => {
        const tr = table.insertRow();
        [String(r.rank), r.rule].forEach(v => (tr.insertCell().textContent = v));
        barCell(tr, r.sole_errors, max, num(r.sole_errors), COLORS[2]);
        [num(r.errors), `${pct(r.feeds_affected_share)} (${r.feeds_affected}/${r.feeds})`].forEach(v => {
          const td = tr.insertCell(); td.className = 'num'; td.textContent = v;
        });
        trendCell(tr, r.trend_vs_prev_7d, 'records fixed alone vs the average day of the previous 7 days');
        const td = tr.insertCell(); td.className = 'num'; td.textContent = pct(r.error_rate_if_fixed);
        ruleRows++;
      });
    });
    if (!keys.length) h('p', {class: 'empty'}, grid, 'No failing rules on this day.');
    const lat = rec.latency || [];
    h('h3', {style: 'margin-top:10px'}, root, `Latency outlier regions (p95 above their marketplace's)` +
      (rec.latency_day ? `, ${rec.latency_day}` : ''));
    if (lat.length) {
      const table = h('table', {id: 'latency-outliers'}, root);
      const head = table.insertRow();
      ['marketplace', 'region', 'p95 latency', "marketplace's p95", 'above it', 'jobs'].forEach((t, i) =>
        h('th', {class: i >= 2 ? 'num' : ''}, head, t));
      lat.forEach(r => {
        const tr = table.insertRow();
        [r.marketplace, r.region].forEach(v => (tr.insertCell().textContent = v));
        [ms(r.latency_p95_ms), ms(r.marketplace_latency_p95_ms),
         `+${ms(r.excess_ms)} (×${(r.excess_ratio || 0).toFixed(2)})`, num(r.jobs)].forEach(v => {
          const td = tr.insertCell(); td.className = 'num'; td.textContent = v;
        });
      });
    } else {
      h('p', {class: 'empty'}, root, 'No region above its marketplace.');
    }
    done(root, ruleRows + lat.length, {keys: keys.length, rules: ruleRows, latencyOutliers: lat.length});
  }

  function radios(name, draw) {
    document.querySelectorAll(`input[name="${name}"]`).forEach(input =>
      input.addEventListener('change', () => input.checked && draw(input.value)));
    draw(document.querySelector(`input[name="${name}"]:checked`).value);
  }

  const filter = document.getElementById('fix-first-filter');
  h('option', {value: ''}, filter, 'all');
  [...new Set(((data.recommendations || {}).rules || []).map(r => r.marketplace))].sort()
    .forEach(m => h('option', {value: m}, filter, m));
  filter.addEventListener('change', () => drawFixFirst(filter.value));
  const partialNote = document.getElementById('partial-days');
  if (data.partial_days.length) {
    partialNote.textContent = 'Partial days in this page: ';
    data.partial_days.forEach(d => h('span', {class: 'partial'}, partialNote, d));
  }
  drawFixFirst('');
  radios('er-metric', drawErrorRate);
  radios('lat-metric', drawLatency);
  radios('hs-kind', drawHotspots);
  drawAnomalies();
  document.body.dataset.ready = 'true';
})();
