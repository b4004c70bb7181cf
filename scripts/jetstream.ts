/**
 * JetStream-mode figures (`npm run jetstream`), measured on this machine in one run:
 *   1. throughput with 1, 2 and 3 instances (and the in-memory mode for reference);
 *   2. the latency JetStream adds, against the in-memory mode;
 *   3. the time from an instance's SIGKILL to its partitions flowing again;
 *   4. what one record write costs the client, through its own kv.create and pipelined (pub-acks.ts).
 * `--only` picks some of them. Needs nats-server (`apt-get install nats-server`).
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { numberFlag } from './flags.ts';
import { closeAgent, latency, takeover, throughput, writeCost, type Latency, type Takeover, type Throughput, type WriteCost } from './jetstream/figures.ts';
import { natsServerAvailable } from './jetstream/nats-server.ts';

const PARTS = ['throughput', 'latency', 'takeover', 'writes'] as const;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      intents: { type: 'string' }, threads: { type: 'string' }, concurrency: { type: 'string' }, samples: { type: 'string' },
      kills: { type: 'string' }, 'lease-ttl-ms': { type: 'string' }, only: { type: 'string' }, rounds: { type: 'string' }, writes: { type: 'string' }, instances: { type: 'string' }, json: { type: 'string' }, help: { type: 'boolean' },
    },
    strict: true,
  });
  if (values.help) {
    console.log('Usage: npm run jetstream -- [--only throughput,latency,takeover,writes] [--rounds 1] [--instances 1,2,3] [--writes 20000] [--intents 6000] [--threads 600] [--concurrency 64] [--samples 300] [--kills 3] [--lease-ttl-ms 2000] [--json FILE]');
    return;
  }
  const only = new Set((values.only ?? PARTS.join(',')).split(',').map((part) => part.trim()).filter(Boolean));
  for (const part of only) {
    if (!(PARTS as readonly string[]).includes(part)) throw new Error(`--only takes ${PARTS.join(', ')}; got ${JSON.stringify(part)}`);
  }
  const intents = numberFlag('intents', values.intents, 6000);
  const threads = numberFlag('threads', values.threads, 600);
  const concurrency = numberFlag('concurrency', values.concurrency, 64);
  const samples = numberFlag('samples', values.samples, 300);
  const kills = numberFlag('kills', values.kills, 3);
  const leaseTtlMs = numberFlag('lease-ttl-ms', values['lease-ttl-ms'], 2000);
  const rounds = numberFlag('rounds', values.rounds, 1);
  const writeCount = numberFlag('writes', values.writes, 20_000);
  const instanceCounts = (values.instances ?? '1,2,3').split(',').map((n) => numberFlag('instances', n.trim(), 1));
  if (!natsServerAvailable()) {
    console.error('nats-server is not installed: apt-get install nats-server');
    process.exitCode = 1;
    return;
  }

  const started = performance.now();
  const rates: Throughput[] = [];
  if (only.has('throughput')) {
    console.log(`throughput: ${intents} intents over ${threads} threads, ${concurrency} concurrent clients, simulator at 0 ms, ${rounds} round(s)`);
    for (let round = 0; round < rounds; round++) {
      for (const n of [0, ...instanceCounts]) {
        const rate = await throughput(n, intents, threads, concurrency);
        rates.push(rate);
        console.log(`  ${rate.mode.padEnd(9)} ${rate.instances} instance(s): ${Math.round(rate.perSecond).toLocaleString('en-US')} intents/s`);
      }
    }
  }
  // Each design's median round; the ratios are the medians of the per-round ratios to the same round's memory run.
  const perRound = (n: number): Throughput[] => rates.filter((r) => (r.mode === 'memory' ? 0 : r.instances) === n);
  const memoryRounds = perRound(0);
  const designs = only.has('throughput') ? [0, ...instanceCounts].map((n) => {
    const runs = perRound(n);
    return {
      mode: n === 0 ? 'memory' : 'jetstream', instances: Math.max(1, n), intents,
      perSecond: Math.round(median(runs.map((r) => r.perSecond))),
      rounds: runs.map((r) => Math.round(r.perSecond)),
      vsMemory: +median(runs.map((r, i) => r.perSecond / memoryRounds[i]!.perSecond)).toFixed(2),
      // Per intent, medians over the rounds (Linux only): the instances' CPU µs, their main threads', their write syscalls, nats-server's CPU µs.
      instanceCpuUs: medianOf(runs.map((r) => r.instanceCost?.cpuUs)),
      mainThreadCpuUs: medianOf(runs.map((r) => r.instanceCost?.mainThreadUs)),
      writeSyscalls: medianOf(runs.map((r) => r.instanceCost?.writes)),
      natsCpuUs: medianOf(runs.map((r) => r.natsCpuUs)),
      messages: runs.at(-1)?.messages,
    };
  }) : [];

  let latencies: { memory: Latency; jetstream: Latency } | undefined;
  if (only.has('latency')) {
    console.log(`latency: ${samples} sequential ?wait=true intents, default simulator latencies`);
    latencies = { memory: await latency('memory', samples), jetstream: await latency('jetstream', samples) };
    for (const l of [latencies.memory, latencies.jetstream]) console.log(`  ${l.mode.padEnd(9)} p50 ${l.p50.toFixed(1)} ms  p90 ${l.p90.toFixed(1)} ms  p99 ${l.p99.toFixed(1)} ms`);
  }

  const trials: Takeover[] = [];
  if (only.has('takeover')) {
    console.log(`takeover: 3 instances, SIGKILL one, lease TTL ${leaseTtlMs} ms, ${kills} trial(s)`);
    for (let i = 0; i < kills; i++) {
      const trial = await takeover(leaseTtlMs);
      trials.push(trial);
      console.log(`  trial ${i + 1}: ${trial.victimPartitions} partitions flowing again after median ${trial.medianMs} ms, max ${trial.maxMs} ms`);
    }
  }
  let writes: WriteCost | undefined;
  if (only.has('writes')) {
    console.log(`record writes: ${writeCount.toLocaleString('en-US')} KV creates per round, 64 at a time, the client's kv.create against the pipelined publish, 3 rounds alternating`);
    writes = await writeCost(writeCount, 3);
    console.log(`  client CPU µs per write: kv.create ${writes.clientKvUs.join(' / ')}; pipelined ${writes.pipelinedUs.join(' / ')}`);
    console.log(`  writes/s: kv.create ${writes.clientKvPerSecond.join(' / ')}; pipelined ${writes.pipelinedPerSecond.join(' / ')}`);
  }
  await closeAgent();

  const all = trials.flatMap((t) => t.perPartitionMs).sort((a, b) => a - b);
  const summary = {
    machine: { cores: cpus().length, node: process.version, natsServer: spawnSync('nats-server', ['--version']).stdout.toString().trim(), loadAverage: loadavg().map((l) => +l.toFixed(2)) },
    seconds: Math.round((performance.now() - started) / 1000),
    throughput: designs,
    latency: latencies && { ...latencies, addedP50Ms: +(latencies.jetstream.p50 - latencies.memory.p50).toFixed(1), addedP99Ms: +(latencies.jetstream.p99 - latencies.memory.p99).toFixed(1) },
    writes,
    takeover: trials.length > 0 ? { leaseTtlMs, trials, medianMs: all[Math.floor(all.length / 2)], maxMs: all.at(-1) } : undefined,
  };
  console.log('');
  for (const design of designs) {
    if (design.mode === 'memory') console.log(`memory mode, 1 instance: ${design.perSecond} intents/s`);
    else console.log(`JetStream, ${design.instances} instance(s): ${design.perSecond} intents/s, ${design.vsMemory}x memory mode`);
  }
  if (designs.some((design) => design.instanceCpuUs !== undefined)) {
    console.log('per intent (medians over the rounds): | design | instances CPU µs | their main threads µs | their write syscalls | nats-server CPU µs | messages stored, by stream |');
    for (const d of designs) {
      const stored = d.messages ? Object.entries(d.messages).map(([name, n]) => `${name} ${n}`).join(', ') : '-';
      console.log(`  | ${d.mode} ×${d.instances} | ${d.instanceCpuUs ?? '-'} | ${d.mainThreadCpuUs ?? '-'} | ${d.writeSyscalls ?? '-'} | ${d.natsCpuUs ?? '-'} | ${stored} |`);
    }
  }
  if (summary.latency) console.log(`added latency: p50 +${summary.latency.addedP50Ms} ms, p99 +${summary.latency.addedP99Ms} ms`);
  if (summary.takeover) console.log(`SIGKILL to partitions flowing again: median ${summary.takeover.medianMs} ms, max ${summary.takeover.maxMs} ms (lease TTL ${leaseTtlMs} ms)`);
  console.log(`(${summary.seconds} s; ${summary.machine.cores} cores shared by nats-server, the instances and this load generator; load average at the end ${summary.machine.loadAverage.join(' ')})`);
  if (values.json) writeFileSync(values.json, `${JSON.stringify(summary, null, 2)}\n`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? NaN : sorted[Math.floor(sorted.length / 2)]!;
}

/** The median of the readings that exist; undefined if none do (no /proc). */
function medianOf(values: (number | undefined)[]): number | undefined {
  const present = values.filter((value): value is number => value !== undefined);
  return present.length === 0 ? undefined : median(present);
}
