/** The load test's outputs: a plain summary table and a self-contained HTML page with overlaid charts. */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { ModeResult } from './runner.ts';

const ms = (value: number): string => (Number.isFinite(value) ? value.toFixed(1) : '-');

export function label(result: ModeResult): string {
  return `${result.mode} (${Math.round(result.hung * 100)}% hung)`;
}

/** A markdown table: readable on a terminal, and pasteable into the README as it is. */
export function table(results: ModeResult[]): string {
  const header = ['mode', 'healthy done', 'blocked', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms', 'intents/s', 'loop lag p99 ms', 'order violations', 'lost', 'hung stopped'];
  const rows = results.map((r) => [
    label(r),
    `${r.healthy.completed}/${r.healthy.planned}`,
    String(r.healthy.blocked),
    ms(r.latencyMs.p50), ms(r.latencyMs.p95), ms(r.latencyMs.p99), ms(r.latencyMs.max),
    r.throughput.toFixed(0),
    ms(r.loopLagP99Ms),
    String(r.orderViolations),
    r.lost === null ? 'n/a (blocked)' : String(r.lost),
    `${r.hungThreads.stopped}/${r.hungThreads.count}`,
  ]);
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** uPlot, inlined into the report so that the single HTML file opens offline. */
const require = createRequire(import.meta.url);
const UPLOT_JS = (): string => readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8');
const UPLOT_CSS = (): string => readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8');

/** Points on each chart's shared x axis: enough for a smooth curve, few enough to keep the file small. */
const POINTS = 200;
const COLOURS = ['#2563eb', '#dc2626', '#d97706', '#16a34a', '#7c3aed', '#0891b2', '#db2777', '#4b5563'];

/** The charts' data, on shared x axes, so that the designs overlay on one picture each. */
export function chartData(results: ModeResult[]) {
  const labels = results.map(label);
  const endMs = Math.max(1, ...results.map((r) => r.elapsedMs));
  const times = Array.from({ length: POINTS + 1 }, (_, i) => (i / POINTS) * endMs);
  // Healthy intents completed by each time: a count of the sorted completion times up to it.
  const progress = results.map((r) => times.map((t) => countUpTo(r.completedAtMs, t)));
  const percentiles = Array.from({ length: POINTS + 1 }, (_, i) => (i / POINTS) * 100);
  const latency = results.map((r) => percentiles.map((p) => (r.latencies.length === 0 ? null : r.latencies[Math.min(r.latencies.length - 1, Math.max(0, Math.ceil((p / 100) * r.latencies.length) - 1))]!)));
  return {
    labels,
    colours: labels.map((_, i) => COLOURS[i % COLOURS.length]!),
    hungStartedAtS: Math.min(...results.map((r) => r.hungStartedAtMs)) / 1000,
    progress: [times.map((t) => t / 1000), ...progress],
    latency: [percentiles, ...latency],
  };
}

function countUpTo(sorted: number[], t: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * An HTML report a person can open in a browser, offline: the table, then two charts overlaying every
 * design (healthy intents completed over time, with the moment the hung starts began marked; latency
 * by percentile). One self-contained file: uPlot and the data are inlined.
 */
export function html(results: ModeResult[], command: string): string {
  const rows = results.map((r) => `<tr><td>${escape(label(r))}</td><td>${r.healthy.completed}/${r.healthy.planned}</td><td>${r.healthy.blocked}</td>`
    + `<td>${ms(r.latencyMs.p50)}</td><td>${ms(r.latencyMs.p99)}</td><td>${r.throughput.toFixed(0)}</td><td>${ms(r.loopLagP99Ms)}</td>`
    + `<td>${r.orderViolations}</td><td>${r.lost ?? 'n/a'}</td><td>${r.hungThreads.stopped}/${r.hungThreads.count}</td></tr>`).join('\n');
  // In a <script> element only "</" can end it early: escaped, the JSON parses the same.
  const data = JSON.stringify(chartData(results)).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>lanepool load test</title>
<style>${UPLOT_CSS()}
body{font:14px system-ui,sans-serif;margin:2em;max-width:1000px}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}
td:first-child{text-align:left}section{margin-top:2em}code{background:#f4f4f4;padding:2px 4px}</style></head>
<body><h1>lanepool load test</h1><p><code>${escape(command)}</code></p>
<table id="summary"><tr><th>mode</th><th>healthy done</th><th>blocked</th><th>p50 ms</th><th>p99 ms</th><th>intents/s</th><th>loop lag p99 ms</th><th>order violations</th><th>lost</th><th>hung stopped</th></tr>
${rows}</table>
<section><h2>Healthy intents completed over time</h2>
<p>Every design on one chart. The dashed line marks when the hung session starts were sent: a design with head-of-line blocking flattens there, lanes keep rising.</p>
<div id="progress" class="chart"></div></section>
<section><h2>Latency by percentile</h2>
<p>Submission to settlement of every healthy intent that completed, on a log scale. A design that blocked shows only the intents that got through before its time budget ran out.</p>
<div id="latency" class="chart"></div></section>
<script id="chart-data" type="application/json">${data}</script>
<script>${UPLOT_JS()}</script>
<script>${CHARTS_SCRIPT}</script>
</body></html>
`;
}

/** Draws the two charts from the inlined data; runs in the browser. */
const CHARTS_SCRIPT = `
const d = JSON.parse(document.getElementById('chart-data').textContent);
const width = Math.min(960, document.body.clientWidth);
const series = (unit) => [{}, ...d.labels.map((label, i) => ({ label, stroke: d.colours[i], width: 2, value: (u, v) => v == null ? '-' : v.toFixed(unit) }))];
const marker = {
  hooks: { draw: [(u) => {
    const x = u.valToPos(d.hungStartedAtS, 'x', true);
    const ctx = u.ctx;
    ctx.save();
    ctx.strokeStyle = '#6b7280';
    ctx.setLineDash([6, 4]);
    ctx.beginPath();
    ctx.moveTo(x, u.bbox.top);
    ctx.lineTo(x, u.bbox.top + u.bbox.height);
    ctx.stroke();
    ctx.fillStyle = '#374151';
    ctx.textAlign = 'left';
    ctx.textBaseline = 'top';
    ctx.font = (12 * devicePixelRatio) + 'px system-ui, sans-serif';
    ctx.fillText('hung starts sent', x + 6 * devicePixelRatio, u.bbox.top + 4 * devicePixelRatio);
    ctx.restore();
  }] },
};
new uPlot({
  width, height: 320, plugins: [marker],
  scales: { x: { time: false } },
  series: series(0),
  axes: [{ label: 'seconds since the run started', values: (u, vals) => vals.map((v) => v + ' s') }, { label: 'healthy intents completed', size: 60 }],
}, d.progress, document.getElementById('progress'));
new uPlot({
  width, height: 320,
  scales: { x: { time: false }, y: { distr: 3 } },
  series: series(1),
  axes: [{ label: 'percentile', values: (u, vals) => vals.map((v) => 'p' + v) }, { label: 'latency, ms (log)', size: 60 }],
}, d.latency, document.getElementById('latency'));
`;

function escape(text: string): string {
  return text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}
