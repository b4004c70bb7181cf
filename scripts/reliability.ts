/**
 * Reliability figures (`npm run reliability`), measured rather than asserted:
 *   1. recovery time from a stall: from a handler starting to spin until another key of the same
 *      shard completes again, over `--trials` trials at stallTimeoutMs = `--stall-timeout-ms`;
 *   2. the chaos scenario's totals at a larger size than the CI test runs;
 *   3. the memory bound: `--memory-intents` intents of 256 KiB behind hung starts against a service
 *      child with a `--memory-heap-mb` heap, in each shape of memory-bound.ts, with the byte bounds
 *      the service derives from its heap, and once more with them lifted for contrast;
 *   4. slow-body connections against the HTTP service: how many it closed, and after how long;
 *   5. the zombie-owner attack on the JetStream mode (an owner SIGSTOPped past its lease TTL, then
 *      resumed), `--zombie-runs` times; it needs nats-server and is skipped without it.
 * The first two run the compiled pool from dist/ (`npm run reliability` builds it first), as users
 * run it: a replacement worker boots plain JavaScript, with no TypeScript loader.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { numberFlag } from './flags.ts';
import { natsServerAvailable, startNatsServer } from './jetstream/nats-server.ts';
import { runChaos } from './reliability/chaos.ts';
import { runMemoryBound, type MemoryBoundReport } from './reliability/memory-bound.ts';
import { runSlowBody } from './reliability/slow-body.ts';
import { runZombieOwner, type ZombieReport } from './reliability/zombie-owner.ts';

const DIST = new URL('../dist/main/index.js', import.meta.url);
if (!existsSync(DIST)) throw new Error('reliability measures the compiled pool: run `npm run build` first (`npm run reliability` does)');
const { LanePool } = (await import(DIST.href)) as typeof import('../src/main/index.ts');

const HANDLER = new URL('./reliability/chaos-handler.mjs', import.meta.url);

/**
 * One pool per trial: each trial measures a shard's first restart. Back-to-back stalls on one pool
 * would measure the crash-loop backoff instead (by design it grows to 10 s for a shard that keeps dying).
 */
async function recoveryTimes(trials: number, stallTimeoutMs: number): Promise<number[]> {
  const times: number[] = [];
  for (let trial = 0; trial < trials; trial++) {
    const pool = new LanePool({ handler: HANDLER, shards: 1, stallTimeoutMs });
    await pool.ready();
    await pool.run('warm', { op: 'work', seq: 0, yields: 0 });
    const gate = new Int32Array(new SharedArrayBuffer(4));
    const spin = pool.run('spinner', { op: 'spin', gate: gate.buffer }).catch(() => undefined);
    const wait = Atomics.waitAsync(gate, 0, 0, 30_000);
    if (wait.async) await wait.value;
    const frozeAt = performance.now();
    // Another key on the same (only) shard: it completes once a replacement worker runs it.
    await pool.run('probe', { op: 'work', seq: trial, yields: 0 });
    times.push(performance.now() - frozeAt);
    await spin;
    await pool.close({ force: true });
  }
  return times;
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** The measurements, in the order they run; `--only` picks some. */
const SECTIONS = ['recovery', 'chaos', 'memory', 'slow-body', 'zombie'] as const;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      trials: { type: 'string' }, 'stall-timeout-ms': { type: 'string' }, tasks: { type: 'string' },
      'memory-heap-mb': { type: 'string' }, 'memory-intents': { type: 'string' }, 'slow-connections': { type: 'string' }, 'zombie-runs': { type: 'string' },
      only: { type: 'string' }, json: { type: 'string' }, help: { type: 'boolean' },
    },
    strict: true,
  });
  if (values.help) {
    console.log(`Usage: npm run reliability -- [--only ${SECTIONS.join(',')}] [--trials 20] [--stall-timeout-ms 500] [--tasks 10000] [--memory-heap-mb 256] [--memory-intents 1000] [--slow-connections 100] [--zombie-runs 3] [--json FILE]`);
    return;
  }
  const only = new Set((values.only ?? SECTIONS.join(',')).split(',').map((part) => part.trim()).filter(Boolean));
  for (const part of only) {
    if (!(SECTIONS as readonly string[]).includes(part)) throw new Error(`--only takes ${SECTIONS.join(', ')}; got ${JSON.stringify(part)}`);
  }
  const trials = numberFlag('trials', values.trials, 20);
  const stallTimeoutMs = numberFlag('stall-timeout-ms', values['stall-timeout-ms'], 500);
  const tasks = numberFlag('tasks', values.tasks, 10_000);
  const heapMb = numberFlag('memory-heap-mb', values['memory-heap-mb'], 256);
  const memoryIntents = numberFlag('memory-intents', values['memory-intents'], 1000);
  const slowConnections = numberFlag('slow-connections', values['slow-connections'], 100);
  const zombieRuns = numberFlag('zombie-runs', values['zombie-runs'], 3);

  const report: Record<string, unknown> = {};
  if (only.has('recovery')) {
    const times = (await recoveryTimes(trials, stallTimeoutMs)).sort((a, b) => a - b);
    const recovery = { trials, stallTimeoutMs, medianMs: quantile(times, 0.5), p90Ms: quantile(times, 0.9), minMs: times[0]!, maxMs: times.at(-1)! };
    console.log(`\nRecovery from a stall (${trials} trials, stallTimeoutMs ${stallTimeoutMs}):`);
    console.log('| median ms | p90 ms | min ms | max ms | median minus stallTimeoutMs |');
    console.log('| --- | --- | --- | --- | --- |');
    console.log(`| ${recovery.medianMs.toFixed(0)} | ${recovery.p90Ms.toFixed(0)} | ${recovery.minMs.toFixed(0)} | ${recovery.maxMs.toFixed(0)} | ${(recovery.medianMs - stallTimeoutMs).toFixed(0)} |`);
    report.recovery = { ...recovery, times };
  }
  if (only.has('chaos')) {
    const chaos = await runChaos({ tasks, keys: 200, stalls: 4, crashes: 8, stallTimeoutMs: 300, seed: 2026 }, LanePool);
    console.log(`\nChaos (${tasks} tasks over 200 keys; 4 stalls, 8 crashes, ~3% deadlines, ~4% caller aborts, random cancel(key); seed 2026):`);
    console.log('| submitted | settled | settled twice | completed | cancelled | timed out | shard restarted | order violations | restarts (stall/crash/oom) | replayed | healthy at end | seconds |');
    console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
    const o = chaos.outcomes;
    console.log(`| ${chaos.submitted} | ${chaos.settled} | ${chaos.settledTwice} | ${o.completed ?? 0} | ${o.ERR_LANE_CANCELLED ?? 0} | ${o.ERR_LANE_TIMEOUT ?? 0} | ${o.ERR_SHARD_RESTARTED ?? 0} | ${chaos.orderViolations} | ${chaos.restarts.stall}/${chaos.restarts.crash}/${chaos.restarts.oom} | ${chaos.replayed} | ${chaos.healthyAtEnd ? 'yes' : 'NO'} | ${chaos.seconds.toFixed(1)} |`);
    report.chaos = chaos;
  }
  if (only.has('memory')) {
    // 262,144 characters is the largest input the payload schema takes: a 256 KiB intent.
    const lifted = String(Number.MAX_SAFE_INTEGER);
    const memory: (MemoryBoundReport & { bounds: string; threads: number })[] = [];
    const derived = 'derived from the heap';
    for (const [bounds, threads, shape, flags] of [
      [derived, 1, 'ascii', []], [derived, 16, 'ascii', []], [derived, 16, 'wide', []], [derived, 16, 'keys', []],
      ['lifted', 16, 'ascii', ['--max-queued-bytes', lifted, '--max-queued-bytes-per-thread', lifted]],
    ] as const) {
      const report = await runMemoryBound({ heapMb, threads, intents: memoryIntents, inputChars: 262_144, shape, flags: [...flags] });
      memory.push({ ...report, bounds, threads });
    }
    console.log(`\nMemory bound (a service child with --max-old-space-size=${heapMb}; each thread wedged by a start that hangs forever, then ${memoryIntents} intents of about ${Math.round(memory[0]!.intentBytes / 1024)} KiB of JSON spread over the threads):`);
    console.log('| byte bounds | shape | threads | maxQueuedBytes | per thread | accepted | body bytes accepted | 429 (by limit) | other failures | process survived | accepted settled after Stop | heap used MB |');
    console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
    for (const m of memory) {
      const by = Object.entries(m.refusedBy).map(([limit, n]) => `${limit} ${n}`).join(', ') || 'none';
      const bound = (n: number): string => (n >= Number.MAX_SAFE_INTEGER ? 'none' : String(n));
      const heap = m.heapUsedBytes === undefined ? '-' : (m.heapUsedBytes / 2 ** 20).toFixed(0);
      console.log(`| ${m.bounds} | ${m.shape} | ${m.threads} | ${bound(m.maxQueuedBytes)} | ${bound(m.maxQueuedBytesPerThread)} | ${m.accepted} | ${m.acceptedBytes} | ${m.refused} (${by}) | ${m.failed} | ${m.survived ? 'yes' : 'NO'} | ${m.survived ? `${m.settledAfterStop}/${m.accepted}` : '-'} | ${heap} |`);
    }
    report.memory = memory;
  }
  if (only.has('slow-body')) {
    // Both cases at once: they wait on the same timeout, so running them side by side halves the wait.
    const [open, token] = await Promise.all([
      runSlowBody({ connections: slowConnections, trickleMs: 5000, token: undefined }),
      runSlowBody({ connections: slowConnections, trickleMs: 5000, token: 'reliability-token' }),
    ]);
    console.log(`\nSlow-body connections (headers, then 1 body byte every 5 s; service defaults, request timeout ${open.requestTimeoutMs} ms):`);
    console.log('| service | connections | closed | median s | max s | answer |');
    console.log('| --- | --- | --- | --- | --- | --- |');
    for (const [name, report] of [['no token', open], ['token, client without it', token]] as const) {
      const times = report.closedAfterS;
      const shown = (q: number) => (times.length === 0 ? '-' : quantile(times, q).toFixed(1));
      console.log(`| ${name} | ${report.connections} | ${report.closed} | ${shown(0.5)} | ${times.length === 0 ? '-' : times.at(-1)!.toFixed(1)} | ${Object.entries(report.answers).map(([a, n]) => `${n} × ${a}`).join(', ')} |`);
    }
    report.slowBody = { open, token };
  }
  if (only.has('zombie')) report.zombie = await zombieOwner(zombieRuns);
  if (values.json) {
    writeFileSync(values.json, `${JSON.stringify(report, null, 2)}\n`);
    console.log(`wrote ${values.json}`);
  }
}

/** The issue's attack: 5,000 intents, lease TTL 800 ms, eight 2 s SIGSTOPs of an owner per run. */
async function zombieOwner(runs: number): Promise<ZombieReport[]> {
  if (!natsServerAvailable()) {
    console.log('\nZombie owner: skipped (no nats-server on PATH)');
    return [];
  }
  const options = { threads: 625, perThread: 8, pauses: 8, pauseMs: 2_000, leaseTtlMs: 800, turnMs: 40 };
  console.log(`\nZombie owner (3 instances, ${options.threads * options.perThread} intents over ${options.threads} threads, turns of ${options.turnMs} ms; `
    + `${options.pauses} SIGSTOPs of ${options.pauseMs} ms per run, lease TTL ${options.leaseTtlMs} ms):`);
  console.log('| run | settled records changed | same attempt begun twice | order violations | unsettled | overlaps outside frozen runs | reruns | stale writes refused | leases lost (caught by the clock check) | seconds |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  const nats = await startNatsServer();
  const reports: ZombieReport[] = [];
  try {
    for (let run = 1; run <= runs; run++) {
      const r = await runZombieOwner({ natsUrl: nats.url, ...options });
      reports.push(r);
      console.log(`| ${run} | ${r.settledChanged.length} | ${r.sameAttemptTwice.length} | ${r.orderViolations.length} | ${r.unsettled.length} | ${r.overlaps} | ${r.reruns} | ${r.staleRefused} | ${r.leasesLost} (${r.caughtByClock}) | ${r.seconds.toFixed(1)} |`);
    }
  } finally {
    await nats.stop();
  }
  return reports;
}

await main();
