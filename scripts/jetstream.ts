/**
 * JetStream-mode figures (`npm run jetstream`), measured on this machine in one run:
 *   1. throughput with 1, 2 and 3 instances (and the in-memory mode for reference);
 *   2. the latency JetStream adds, against the in-memory mode;
 *   3. the time from an instance's SIGKILL to its partitions flowing again.
 * Needs nats-server (`apt-get install nats-server`).
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { numberFlag } from './flags.ts';
import { closeAgent, latency, takeover, throughput, type Takeover, type Throughput } from './jetstream/figures.ts';
import { natsServerAvailable } from './jetstream/nats-server.ts';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      intents: { type: 'string' }, threads: { type: 'string' }, concurrency: { type: 'string' }, samples: { type: 'string' },
      kills: { type: 'string' }, 'lease-ttl-ms': { type: 'string' }, json: { type: 'string' }, help: { type: 'boolean' },
    },
    strict: true,
  });
  if (values.help) {
    console.log('Usage: npm run jetstream -- [--intents 6000] [--threads 600] [--concurrency 64] [--samples 300] [--kills 3] [--lease-ttl-ms 2000] [--json FILE]');
    return;
  }
  const intents = numberFlag('intents', values.intents, 6000);
  const threads = numberFlag('threads', values.threads, 600);
  const concurrency = numberFlag('concurrency', values.concurrency, 64);
  const samples = numberFlag('samples', values.samples, 300);
  const kills = numberFlag('kills', values.kills, 3);
  const leaseTtlMs = numberFlag('lease-ttl-ms', values['lease-ttl-ms'], 2000);
  if (!natsServerAvailable()) {
    console.error('nats-server is not installed: apt-get install nats-server');
    process.exitCode = 1;
    return;
  }

  const started = performance.now();
  console.log(`throughput: ${intents} intents over ${threads} threads, ${concurrency} concurrent clients, simulator at 0 ms`);
  const rates: Throughput[] = [];
  for (const n of [0, 1, 2, 3]) {
    const rate = await throughput(n, intents, threads, concurrency);
    rates.push(rate);
    console.log(`  ${rate.mode.padEnd(9)} ${rate.instances} instance(s): ${Math.round(rate.perSecond).toLocaleString('en-US')} intents/s`);
  }
  const base = rates[1]!.perSecond;

  console.log(`latency: ${samples} sequential ?wait=true intents, default simulator latencies`);
  const memory = await latency('memory', samples);
  const jetstream = await latency('jetstream', samples);
  for (const l of [memory, jetstream]) console.log(`  ${l.mode.padEnd(9)} p50 ${l.p50.toFixed(1)} ms  p90 ${l.p90.toFixed(1)} ms  p99 ${l.p99.toFixed(1)} ms`);

  console.log(`takeover: 3 instances, SIGKILL one, lease TTL ${leaseTtlMs} ms, ${kills} trial(s)`);
  const trials: Takeover[] = [];
  for (let i = 0; i < kills; i++) {
    const trial = await takeover(leaseTtlMs);
    trials.push(trial);
    console.log(`  trial ${i + 1}: ${trial.victimPartitions} partitions flowing again after median ${trial.medianMs} ms, max ${trial.maxMs} ms`);
  }
  await closeAgent();

  const all = trials.flatMap((t) => t.perPartitionMs).sort((a, b) => a - b);
  const summary = {
    machine: { cores: cpus().length, node: process.version, natsServer: spawnSync('nats-server', ['--version']).stdout.toString().trim() },
    seconds: Math.round((performance.now() - started) / 1000),
    throughput: rates.map((r) => ({ ...r, perSecond: Math.round(r.perSecond), vsOneInstance: r.mode === 'jetstream' ? +(r.perSecond / base).toFixed(2) : undefined })),
    latency: { memory, jetstream, addedP50Ms: +(jetstream.p50 - memory.p50).toFixed(1), addedP99Ms: +(jetstream.p99 - memory.p99).toFixed(1) },
    takeover: { leaseTtlMs, trials, medianMs: all[Math.floor(all.length / 2)], maxMs: all.at(-1) },
  };
  console.log('');
  console.log(`JetStream throughput 1/2/3 instances: ${rates.slice(1).map((r) => Math.round(r.perSecond)).join(' / ')} intents/s `
    + `(${rates.slice(1).map((r) => (r.perSecond / base).toFixed(2)).join(' / ')}×); in memory, one instance: ${Math.round(rates[0]!.perSecond)}/s`);
  console.log(`added latency: p50 +${summary.latency.addedP50Ms} ms, p99 +${summary.latency.addedP99Ms} ms`);
  console.log(`SIGKILL to partitions flowing again: median ${summary.takeover.medianMs} ms, max ${summary.takeover.maxMs} ms (lease TTL ${leaseTtlMs} ms)`);
  console.log(`(${summary.seconds} s; ${summary.machine.cores} cores shared by nats-server, the instances and this load generator)`);
  if (values.json) writeFileSync(values.json, `${JSON.stringify(summary, null, 2)}\n`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
