/**
 * Reads a `.cpuprofile` (from `npm run bench -- --only http --cpu-prof-dir DIR`) and splits the
 * thread's non-idle time into the categories the README's profile findings use, by the first rule
 * that matches any frame of each sample's stack. Start-up (module loading, startService) is left out.
 *
 *   node scripts/bench/profile-categories.mjs DIR/service/CPU.<...>.0.001.cpuprofile [requests]
 *
 * With `requests` (the 2xx counts the benchmark prints on stderr, warm-up included) it also prints
 * microseconds per request. The profile counts wall time while the thread is not idle, so on a busy
 * machine it includes time spent waiting for a core: read the shares, and the CPU columns of the
 * benchmark for cost.
 */
import { readFileSync } from 'node:fs';
const [file, countArg] = process.argv.slice(2);
const p = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const f = (n) => `${n.callFrame.functionName} ${n.callFrame.url}`;
const RULES = [
  ['idle', /^\(idle\)/], ['GC', /^\(garbage collector\)/], ['(program)', /^\(program\)/],
  ['start-up (module loading, startService)', /module_job|esm\/loader|startService|cjs\/loader|compileForInternalLoader/],
  ['postMessage to the workers (outbox flush)', /outbox\.js/],
  ['worker results in (shard receive, dispatcher settle: records, metrics, events)', /shard-worker\.js|shard\.js|dispatcher\.js$|records\.js/, (s) => s.some((x) => /^(#settle|#receive|message) /.test(x))],
  ['wait path (AbortController, whenSettled, close listener)', /abort_controller|domexception|whenSettled/],
  ['dispatcher submit (records, admission, span, pool.run)', /dispatcher\.js|pool\.js|intent-span|records\.js/],
  ['response write (writev)', /^writev |writevGeneric/],
  ['reply serialize + headers (fastify reply)', /fastify\/lib\/reply\.js|_http_outgoing|_http_server.*writeHead/],
  ['JSON body parse + schema validation', /content-type-parser|validation\.js|ajv|secure-json-parse|validate/],
  ['host/token hooks', /host-check|auth\.js/],
  ['HTTP parse + request objects (node:http, fastify routing)', /_http_|find-my-way|fastify/],
  ['prom-client', /prom-client/],
];
const t = new Map(); let total = 0;
for (let i = 0; i < p.samples.length; i++) { const d = p.timeDeltas[i] ?? 0; t.set(p.samples[i], (t.get(p.samples[i]) ?? 0) + d); total += d; }
const cat = new Map();
for (const [id, d] of t) {
  const stack = []; let cur = id; while (cur !== undefined) { stack.push(f(byId.get(cur))); cur = parent.get(cur); }
  let name = 'other';
  for (const [n, re, extra] of RULES) { if (stack.some((x) => re.test(x)) && (!extra || extra(stack))) { name = n; break; } }
  cat.set(name, (cat.get(name) ?? 0) + d);
}
const idle = cat.get('idle') ?? 0, startup = cat.get('start-up (module loading, startService)') ?? 0;
const busy = total - idle - startup;
const n = Number(countArg ?? 0);
console.log(`busy (no idle, no start-up) ${(busy / 1e3).toFixed(0)} ms${n ? `, ${n} requests: ${(busy / n).toFixed(1)} us each` : ''}`);
for (const [k, v] of [...cat].sort((a, b) => b[1] - a[1])) { if (k === 'idle' || k.startsWith('start-up')) continue; console.log(`${(100 * v / busy).toFixed(1).padStart(5)}%  ${n ? `${(v / n).toFixed(1).padStart(6)} us` : ''}  ${k}`); }
