/** The load test's outputs: a plain summary table and a self-contained HTML page with a chart per mode. */
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

/** An HTML report a person can open in a browser: the table and one latency curve per mode. */
export function html(results: ModeResult[], command: string): string {
  const charts = results.map((r) => `<section><h2>${escape(label(r))}</h2>${chart(r)}</section>`).join('\n');
  const rows = results.map((r) => `<tr><td>${escape(label(r))}</td><td>${r.healthy.completed}/${r.healthy.planned}</td><td>${r.healthy.blocked}</td>`
    + `<td>${ms(r.latencyMs.p50)}</td><td>${ms(r.latencyMs.p99)}</td><td>${r.throughput.toFixed(0)}</td><td>${ms(r.loopLagP99Ms)}</td>`
    + `<td>${r.orderViolations}</td><td>${r.lost ?? 'n/a'}</td><td>${r.hungThreads.stopped}/${r.hungThreads.count}</td></tr>`).join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>lanepool load test</title>
<style>body{font:14px system-ui,sans-serif;margin:2em;max-width:960px}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}
td:first-child{text-align:left}section{margin-top:2em}code{background:#f4f4f4;padding:2px 4px}</style></head>
<body><h1>lanepool load test</h1><p><code>${escape(command)}</code></p>
<table><tr><th>mode</th><th>healthy done</th><th>blocked</th><th>p50 ms</th><th>p99 ms</th><th>intents/s</th><th>loop lag p99 ms</th><th>order violations</th><th>lost</th><th>hung stopped</th></tr>
${rows}</table>
<p>Each chart shows the latency (submission to settlement) of every healthy intent that completed, by percentile, on a log scale.
A mode that blocked shows only the intents that got through before its time budget ran out.</p>
${charts}
</body></html>
`;
}

function chart(r: ModeResult): string {
  const width = 640;
  const height = 240;
  const pad = 48;
  if (r.latencies.length === 0) return '<p>No healthy intent completed.</p>';
  const lo = Math.max(0.1, r.latencies[0]!);
  const hi = Math.max(lo * 10, r.latencies.at(-1)!);
  const y = (v: number) => height - pad - ((Math.log10(Math.max(v, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * (height - 2 * pad);
  const x = (p: number) => pad + p * (width - 2 * pad);
  const step = Math.max(1, Math.floor(r.latencies.length / 400));
  const points: string[] = [];
  for (let i = 0; i < r.latencies.length; i += step) points.push(`${x(i / (r.latencies.length - 1 || 1)).toFixed(1)},${y(r.latencies[i]!).toFixed(1)}`);
  points.push(`${x(1).toFixed(1)},${y(r.latencies.at(-1)!).toFixed(1)}`);
  const ticks = [lo, Math.sqrt(lo * hi), hi].map((v) => `<text x="${pad - 6}" y="${y(v) + 4}" text-anchor="end">${v.toFixed(1)}</text>`).join('');
  const xticks = [0, 0.5, 0.9, 0.99, 1].map((p) => `<text x="${x(p)}" y="${height - pad + 16}" text-anchor="middle">p${Math.round(p * 100)}</text>`).join('');
  return `<svg width="${width}" height="${height}" font-size="11" role="img" aria-label="latency by percentile for ${escape(label(r))}">
<rect x="${pad}" y="${pad}" width="${width - 2 * pad}" height="${height - 2 * pad}" fill="none" stroke="#ccc"/>
<polyline fill="none" stroke="#2563eb" stroke-width="2" points="${points.join(' ')}"/>${ticks}${xticks}
<text x="12" y="${pad - 12}">ms (log)</text></svg>`;
}

function escape(text: string): string {
  return text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}
