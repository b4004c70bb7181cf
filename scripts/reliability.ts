/**
 * Reliability figures (`npm run reliability`), measured rather than asserted:
 *   1. recovery time from a stall: from a handler starting to spin until another key of the same
 *      shard completes again, over `--trials` trials at stallTimeoutMs = `--stall-timeout-ms`;
 *   2. the chaos scenario's totals at a larger size than the CI test runs;
 *   3. the zombie-owner attack on the JetStream mode (an owner SIGSTOPped past its lease TTL, then
 *      resumed), `--zombie-runs` times; it needs nats-server and is skipped without it.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { LanePool } from '../src/main/index.ts';
import { natsServerAvailable, startNatsServer } from './jetstream/nats-server.ts';
import { runChaos } from './reliability/chaos.ts';
import { runZombieOwner, type ZombieReport } from './reliability/zombie-owner.ts';

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

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      trials: { type: 'string' }, 'stall-timeout-ms': { type: 'string' }, tasks: { type: 'string' }, 'zombie-runs': { type: 'string' },
      json: { type: 'string' }, help: { type: 'boolean' },
    },
    strict: true,
  });
  if (values.help) {
    console.log('Usage: npm run reliability -- [--trials 20] [--stall-timeout-ms 500] [--tasks 10000] [--zombie-runs 3] [--json FILE]');
    return;
  }
  const int = (text: string | undefined, fallback: number, flag: string): number => {
    const value = text === undefined ? fallback : Number(text);
    if (!Number.isInteger(value) || value < 1) throw new Error(`--${flag} must be a positive integer, got ${JSON.stringify(text)}`);
    return value;
  };
  const trials = int(values.trials, 20, 'trials');
  const stallTimeoutMs = int(values['stall-timeout-ms'], 500, 'stall-timeout-ms');
  const tasks = int(values.tasks, 10_000, 'tasks');
  const zombieRuns = int(values['zombie-runs'], 3, 'zombie-runs');

  const times = (await recoveryTimes(trials, stallTimeoutMs)).sort((a, b) => a - b);
  const recovery = { trials, stallTimeoutMs, medianMs: quantile(times, 0.5), p90Ms: quantile(times, 0.9), minMs: times[0]!, maxMs: times.at(-1)! };
  console.log(`\nRecovery from a stall (${trials} trials, stallTimeoutMs ${stallTimeoutMs}):`);
  console.log('| median ms | p90 ms | min ms | max ms | median minus stallTimeoutMs |');
  console.log('| --- | --- | --- | --- | --- |');
  console.log(`| ${recovery.medianMs.toFixed(0)} | ${recovery.p90Ms.toFixed(0)} | ${recovery.minMs.toFixed(0)} | ${recovery.maxMs.toFixed(0)} | ${(recovery.medianMs - stallTimeoutMs).toFixed(0)} |`);

  const chaos = await runChaos({ tasks, keys: 200, stalls: 4, crashes: 8, stallTimeoutMs: 300, seed: 2026 });
  console.log(`\nChaos (${tasks} tasks over 200 keys; 4 stalls, 8 crashes, ~3% deadlines, ~4% caller aborts, random cancel(key); seed 2026):`);
  console.log('| submitted | settled | settled twice | completed | cancelled | timed out | shard restarted | order violations | restarts (stall/crash/oom) | replayed | healthy at end | seconds |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  const o = chaos.outcomes;
  console.log(`| ${chaos.submitted} | ${chaos.settled} | ${chaos.settledTwice} | ${o.completed ?? 0} | ${o.ERR_LANE_CANCELLED ?? 0} | ${o.ERR_LANE_TIMEOUT ?? 0} | ${o.ERR_SHARD_RESTARTED ?? 0} | ${chaos.orderViolations} | ${chaos.restarts.stall}/${chaos.restarts.crash}/${chaos.restarts.oom} | ${chaos.replayed} | ${chaos.healthyAtEnd ? 'yes' : 'NO'} | ${chaos.seconds.toFixed(1)} |`);
  const zombie = await zombieOwner(zombieRuns);
  if (values.json) {
    writeFileSync(values.json, `${JSON.stringify({ recovery: { ...recovery, times }, chaos, zombie }, null, 2)}\n`);
    console.log(`wrote ${values.json}`);
  }
}

/** The attack: 5,000 intents, lease TTL 800 ms, eight 2 s SIGSTOPs of an owner per run. */
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
