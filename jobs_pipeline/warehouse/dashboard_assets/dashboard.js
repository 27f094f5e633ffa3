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
