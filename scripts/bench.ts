/**
 * Benchmarks, each a side-by-side comparison in one process run, reported as ratios because absolute
 * numbers on a shared machine drift. `npm run bench -- --help` lists the flags.
 *
 *   dispatch    trivial async tasks over 1,000 keys: LanePool vs plain piscina (its best concurrentTasksPerWorker),
 *               LanePool again with a subscriber on the `lanepool:task` tracing channel
 *   events      handler events (ctx.emit -> onEvent) per second, against the dispatch workload's tasks per second
 *   transfer    a 1 MB ArrayBuffer payload per task: moved with transferList vs copied
 *   in-process  the same workload through the keyed lane queue alone, on the main thread: the ceiling
 *   cpu         1 ms of CPU per task: LanePool (shards = cores) vs per-key queues on the main thread
 *   memory      1,000,000 distinct keys, one task each: heap and RSS before, at the peak, after drain + GC
 *   scaling     the cpu workload on 1, 2 and 4 shards
 *   startup     the compiled package's start-up, RSS per shard and import time vs piscina (bench/startup.ts)
 */
import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { tracingChannel } from 'node:diagnostics_channel';
import { Piscina } from 'piscina';
import { LanePool } from '../src/main/index.ts';
import type { Handler } from '../src/shared/handler.ts';
import { Lanes } from '../src/worker/lanes.ts';
import { closedLoop, type LoopResult } from './bench/closed-loop.ts';
import { startup } from './bench/startup.ts';
import { numberFlag } from './flags.ts';

const ADD = new URL('./bench/add.mjs', import.meta.url);
const BURN = new URL('./bench/burn.mjs', import.meta.url);
const LENGTH = new URL('./bench/length.mjs', import.meta.url);
const EMIT = new URL('./bench/emit.mjs', import.meta.url);
/** Events each task of the events benchmark emits: enough that the tasks' own cost is a small share. */
const EVENTS_PER_TASK = 100;
const KEYS = 1000;
const key = (i: number): string => `thread-${i % KEYS}`;

interface Options {
  durationMs: number;
  inFlight: number;
  memoryKeys: number;
  only: Set<string> | undefined;
}

type Row = Record<string, string | number>;

/** LanePool on the dispatch workload; `traced` subscribes a no-op tracer to every `lanepool:task` event first. */
async function lanePoolDispatch(o: Options, shards: number, traced: boolean): Promise<LoopResult> {
  const noop = { start() {}, end() {}, asyncStart() {}, asyncEnd() {}, error() {} };
  const channel = tracingChannel('lanepool:task');
  if (traced) channel.subscribe(noop);
  try {
    const pool = new LanePool<{ n: number }, number>({ handler: ADD, shards, maxQueued: o.inFlight * 2 });
    await pool.ready();
    await closedLoop((i) => pool.run(key(i), { n: i }), { inFlight: o.inFlight, durationMs: 500 }); // warm-up
    const result = await closedLoop((i) => pool.run(key(i), { n: i }), { inFlight: o.inFlight, durationMs: o.durationMs });
    await pool.close();
    return result;
  } finally {
    if (traced) channel.unsubscribe(noop);
  }
}

async function dispatch(o: Options): Promise<Row[]> {
  const shards = availableParallelism();
  // Untraced and traced alternate, twice, and each keeps its better run: the first pool of a process
  // runs colder, and on a shared machine the load drifts between runs.
  const better = (a: LoopResult | undefined, b: LoopResult): LoopResult => (a && a.tasksPerSecond > b.tasksPerSecond ? a : b);
  let lanes: LoopResult | undefined;
  let traced: LoopResult | undefined;
  for (let round = 0; round < 2; round++) {
    lanes = better(lanes, await lanePoolDispatch(o, shards, false));
    traced = better(traced, await lanePoolDispatch(o, shards, true));
  }

  let best: { concurrency: number; result: LoopResult } | undefined;
  for (const concurrency of [16, 64, 256]) {
    const piscina = new Piscina({ filename: ADD.href, minThreads: shards, maxThreads: shards, concurrentTasksPerWorker: concurrency });
    await closedLoop((i) => piscina.run({ n: i }), { inFlight: o.inFlight, durationMs: 500 });
    const result = await closedLoop((i) => piscina.run({ n: i }), { inFlight: o.inFlight, durationMs: o.durationMs });
    await piscina.destroy();
    if (!best || result.tasksPerSecond > best.result.tasksPerSecond) best = { concurrency, result };
  }
  const ratio = lanes!.tasksPerSecond / best!.result.tasksPerSecond;
  return [
    { bench: 'dispatch', design: `lanepool (${shards} shards)`, 'tasks/s': lanes!.tasksPerSecond, 'p50 ms': lanes!.p50Ms, 'p99 ms': lanes!.p99Ms, ratio },
    { bench: 'dispatch', design: `lanepool (${shards} shards), lanepool:task subscribed`, 'tasks/s': traced!.tasksPerSecond, 'p50 ms': traced!.p50Ms, 'p99 ms': traced!.p99Ms, ratio: traced!.tasksPerSecond / best!.result.tasksPerSecond },
    { bench: 'dispatch', design: `piscina (${shards} workers, concurrentTasksPerWorker ${best!.concurrency})`, 'tasks/s': best!.result.tasksPerSecond, 'p50 ms': best!.result.p50Ms, 'p99 ms': best!.result.p99Ms, ratio: 1 },
  ];
}

interface EventsResult {
  eventsPerSecond: number;
  result: LoopResult;
}

/**
 * The dispatch workload again, each task emitting EVENTS_PER_TASK events to an `onEvent` that counts
 * them: in one loop (`spread` false), or one per event-loop turn.
 */
async function lanePoolEvents(o: Options, shards: number, spread: boolean): Promise<EventsResult> {
  const pool = new LanePool<{ n: number; events: number; yield: boolean }, number, { type: string; text: string; seq: number }>({ handler: EMIT, shards, maxQueued: o.inFlight * 2 });
  let received = 0;
  const onEvent = (): void => {
    received++;
  };
  const loop = (durationMs: number) => closedLoop((i) => pool.run(key(i), { n: i, events: EVENTS_PER_TASK, yield: spread }, { onEvent }), { inFlight: o.inFlight, durationMs });
  await pool.ready();
  await loop(500); // warm-up
  received = 0;
  const result = await loop(o.durationMs);
  const { eventsDelivered, completed } = pool.stats();
  await pool.close();
  // Every task's events arrive before it settles, so the closed loop's window holds all of them.
  if (received !== result.completed * EVENTS_PER_TASK || eventsDelivered !== completed * EVENTS_PER_TASK) throw new Error(`events: ${received} events for ${result.completed} tasks`);
  return { eventsPerSecond: result.tasksPerSecond * EVENTS_PER_TASK, result };
}

/**
 * Events per second against the dispatch workload's tasks per second, on the same shards in the same
 * run: the ratio says what one event costs next to one task (above 1: less).
 */
async function events(o: Options): Promise<Row[]> {
  const shards = availableParallelism();
  // Alternating, twice, each keeping its better run, as dispatch does.
  const better = (a: EventsResult | undefined, b: EventsResult): EventsResult => (a && a.eventsPerSecond > b.eventsPerSecond ? a : b);
  let tasks: LoopResult | undefined;
  let looped: EventsResult | undefined;
  let spread: EventsResult | undefined;
  for (let round = 0; round < 2; round++) {
    const plain = await lanePoolDispatch(o, shards, false);
    if (!tasks || plain.tasksPerSecond > tasks.tasksPerSecond) tasks = plain;
    looped = better(looped, await lanePoolEvents(o, shards, false));
    spread = better(spread, await lanePoolEvents(o, shards, true));
  }
  const row = (design: string, r: EventsResult): Row => ({
    bench: 'events', design, 'per second': r.eventsPerSecond, unit: 'events', 'task p50 ms': r.result.p50Ms, 'task p99 ms': r.result.p99Ms, ratio: r.eventsPerSecond / tasks!.tasksPerSecond,
  });
  return [
    row(`lanepool (${shards} shards), ${EVENTS_PER_TASK} events per task, emitted in a loop`, looped!),
    row(`lanepool (${shards} shards), ${EVENTS_PER_TASK} events per task, one per event-loop turn`, spread!),
    { bench: 'events', design: `lanepool (${shards} shards), dispatch (no events)`, 'per second': tasks!.tasksPerSecond, unit: 'tasks', 'task p50 ms': tasks!.p50Ms, 'task p99 ms': tasks!.p99Ms, ratio: 1 },
  ];
}

/** Runs `handler` through the keyed lane queue on this thread, as a promise per task. */
function inProcessLanes(handler: Handler): (key: string, payload: unknown) => Promise<unknown> {
  const waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
  let nextId = 0;
  const lanes = new Lanes(handler, {
    settled(task, outcome) {
      const waiter = waiting.get(task.id)!;
      waiting.delete(task.id);
      if (outcome.kind === 'ok') waiter.resolve(outcome.value);
      else waiter.reject(outcome.kind === 'error' ? outcome.error : new Error(outcome.kind));
    },
  });
  return (k, payload) => new Promise((resolve, reject) => {
    const id = ++nextId;
    waiting.set(id, { resolve, reject });
    lanes.push({ id, key: k, payload, timeoutMs: 0, control: false });
  });
}

async function inProcess(o: Options): Promise<Row[]> {
  const handler = (await import(ADD.href)).default as Handler;
  const run = inProcessLanes(handler);
  await closedLoop((i) => run(key(i), { n: i }), { inFlight: o.inFlight, durationMs: 500 });
  const result = await closedLoop((i) => run(key(i), { n: i }), { inFlight: o.inFlight, durationMs: o.durationMs });
  return [{ bench: 'in-process', design: 'Lanes on the main thread (no worker hop)', 'tasks/s': result.tasksPerSecond, 'p50 ms': result.p50Ms, 'p99 ms': result.p99Ms }];
}

async function cpuLanePool(shards: number, o: Options): Promise<LoopResult> {
  const pool = new LanePool<{ ms: number }, number>({ handler: BURN, shards, maxQueued: o.inFlight * 2 });
  await pool.ready();
  await closedLoop((i) => pool.run(key(i), { ms: 1 }), { inFlight: 64, durationMs: 300 });
  const result = await closedLoop((i) => pool.run(key(i), { ms: 1 }), { inFlight: 64, durationMs: o.durationMs });
  await pool.close();
  return result;
}

async function cpu(o: Options): Promise<Row[]> {
  const shards = availableParallelism();
  const lanes = await cpuLanePool(shards, o);
  const handler = (await import(BURN.href)).default as Handler;
  const run = inProcessLanes(handler);
  const main = await closedLoop((i) => run(key(i), { ms: 1 }), { inFlight: 64, durationMs: o.durationMs });
  const ratio = lanes.tasksPerSecond / main.tasksPerSecond;
  return [
    { bench: 'cpu', design: `lanepool (${shards} shards)`, 'tasks/s': lanes.tasksPerSecond, 'p50 ms': lanes.p50Ms, 'p99 ms': lanes.p99Ms, 'loop lag p99 ms': lanes.loopLagP99Ms, ratio },
    { bench: 'cpu', design: 'per-key queues on the main thread', 'tasks/s': main.tasksPerSecond, 'p50 ms': main.p50Ms, 'p99 ms': main.p99Ms, 'loop lag p99 ms': main.loopLagP99Ms, ratio: 1 },
  ];
}

async function scaling(o: Options): Promise<Row[]> {
  const rows: Row[] = [];
  let one = 0;
  for (const shards of [1, 2, 4]) {
    const result = await cpuLanePool(shards, o);
    one ||= result.tasksPerSecond;
    rows.push({ bench: 'scaling', design: `lanepool, ${shards} shard${shards > 1 ? 's' : ''} (${availableParallelism()} cores)`, 'tasks/s': result.tasksPerSecond, 'p99 ms': result.p99Ms, ratio: result.tasksPerSecond / one });
  }
  return rows;
}

async function memory(o: Options): Promise<Row[]> {
  const gc = (globalThis as { gc?: () => void }).gc;
  const collect = async (): Promise<void> => {
    for (let i = 0; i < 3; i++) {
      gc?.();
      await sleep(20);
    }
  };
  const window = 100_000;
  const pool = new LanePool<{ n: number }, number>({ handler: ADD, shards: availableParallelism(), maxQueued: window });
  await pool.ready();
  await Promise.all(Array.from({ length: 10_000 }, (_, i) => pool.run(`warm-${i}`, { n: i })));
  await pool.drain();
  await collect();
  const mb = (bytes: number): number => bytes / 2 ** 20;
  const before = process.memoryUsage();
  let peakHeap = before.heapUsed;
  let peakRss = before.rss;
  const sampler = setInterval(() => {
    const now = process.memoryUsage();
    peakHeap = Math.max(peakHeap, now.heapUsed);
    peakRss = Math.max(peakRss, now.rss);
  }, 10);
  const started = performance.now();
  for (let base = 0; base < o.memoryKeys; base += window) {
    const chunk: Promise<number>[] = [];
    for (let i = base; i < Math.min(o.memoryKeys, base + window); i++) chunk.push(pool.run(`distinct-${i}`, { n: i }));
    await Promise.all(chunk);
  }
  await pool.drain();
  const seconds = (performance.now() - started) / 1000;
  clearInterval(sampler);
  await collect();
  const after = process.memoryUsage();
  const lanes = pool.stats().lanes;
  const workerLanes = (await pool.inspect()).reduce((sum, s) => sum + (s?.lanes ?? 0), 0);
  await pool.close();
  return [{
    bench: 'memory',
    design: `${o.memoryKeys.toLocaleString('en-US')} distinct keys, ${window.toLocaleString('en-US')} in flight${gc ? '' : ' (no --expose-gc!)'}`,
    'heap before MB': mb(before.heapUsed), 'heap peak MB': mb(peakHeap), 'heap after MB': mb(after.heapUsed),
    'heap after - before MB': mb(after.heapUsed - before.heapUsed),
    'rss before MB': mb(before.rss), 'rss peak MB': mb(peakRss), 'rss after MB': mb(after.rss),
    'lanes after': lanes, 'worker lanes after': workerLanes, 'tasks/s': o.memoryKeys / seconds,
  }];
}

/** A fresh 1 MB buffer per task either way (a moved one cannot be sent twice): only the transfer differs. */
async function transfer(o: Options): Promise<Row[]> {
  const bytes = 1 << 20;
  const pool = new LanePool<{ buffer: ArrayBuffer }, number>({ handler: LENGTH, shards: availableParallelism() });
  await pool.ready();
  const loop = (move: boolean, durationMs: number) => closedLoop((i) => {
    const buffer = new ArrayBuffer(bytes);
    return pool.run(key(i), { buffer }, move ? { transferList: [buffer] } : undefined);
  }, { inFlight: 16, durationMs });
  await loop(true, 500);
  await loop(false, 500);
  const copied = await loop(false, o.durationMs);
  const moved = await loop(true, o.durationMs);
  await pool.close();
  return [
    { bench: 'transfer', design: '1 MB payload, transferList', 'tasks/s': moved.tasksPerSecond, 'p50 ms': moved.p50Ms, 'p99 ms': moved.p99Ms, ratio: moved.tasksPerSecond / copied.tasksPerSecond },
    { bench: 'transfer', design: '1 MB payload, copied', 'tasks/s': copied.tasksPerSecond, 'p50 ms': copied.p50Ms, 'p99 ms': copied.p99Ms, ratio: 1 },
  ];
}

const BENCHES = { dispatch, events, transfer, 'in-process': inProcess, cpu, memory, scaling, startup } as const;

function format(rows: Row[]): string {
  const lines: string[] = [];
  for (const bench of new Set(rows.map((r) => r.bench))) {
    const group = rows.filter((r) => r.bench === bench);
    const columns = [...new Set(group.flatMap((r) => Object.keys(r)))];
    const cell = (v: string | number | undefined): string => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v >= 100 ? v.toFixed(0) : v.toFixed(2)) : (v ?? ''));
    lines.push(`| ${columns.join(' | ')} |`, `| ${columns.map(() => '---').join(' | ')} |`);
    for (const row of group) lines.push(`| ${columns.map((c) => cell(row[c])).join(' | ')} |`);
    lines.push('');
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { json: { type: 'string' }, 'duration-ms': { type: 'string' }, 'in-flight': { type: 'string' }, 'memory-keys': { type: 'string' }, only: { type: 'string' }, help: { type: 'boolean' } },
    strict: true,
  });
  if (values.help) {
    console.log(`Usage: npm run bench -- [--only ${Object.keys(BENCHES).join(',')}] [--duration-ms 3000] [--in-flight 1024] [--memory-keys 1000000] [--json FILE]`);
    return;
  }
  const only = values.only === undefined ? undefined : new Set(values.only.split(','));
  for (const name of only ?? []) if (!(name in BENCHES)) throw new Error(`--only: unknown benchmark ${JSON.stringify(name)}; known: ${Object.keys(BENCHES).join(', ')}`);
  const options: Options = {
    durationMs: numberFlag('duration-ms', values['duration-ms'], 3000),
    inFlight: numberFlag('in-flight', values['in-flight'], 1024),
    memoryKeys: numberFlag('memory-keys', values['memory-keys'], 1_000_000),
    only,
  };
  const rows: Row[] = [];
  const started = performance.now();
  for (const [name, bench] of Object.entries(BENCHES)) {
    if (only && !only.has(name)) continue;
    const t0 = performance.now();
    const result = await bench(options);
    console.error(`${name}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    rows.push(...result);
  }
  console.log(`\n${format(rows)}`);
  console.log(`node ${process.version}, ${availableParallelism()} cores, ${((performance.now() - started) / 1000).toFixed(0)} s in all`);
  if (values.json) {
    writeFileSync(values.json, `${JSON.stringify({ node: process.version, cores: availableParallelism(), options: { ...options, only: values.only }, rows }, null, 2)}\n`);
    console.log(`wrote ${values.json}`);
  }
}

await main();
