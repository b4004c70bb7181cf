/**
 * The three JetStream-mode measurements behind `npm run jetstream`, each on fresh processes: a real
 * nats-server and `lanepool serve` instances as child processes, driven over real HTTP.
 */
import { connect } from 'nats';
import { Agent, request } from 'undici';
import { shardFor } from '../../src/main/routing.ts';
import { startInstance, type Instance } from './instances.ts';
import { startNatsServer, type NatsServer } from './nats-server.ts';
import { PubAcks } from '../../src/main/jetstream/pub-acks.ts';
import { perIntent, readProcess } from './process-costs.ts';

const PARTITIONS = 16;
const agent = new Agent({ connections: 256, keepAliveTimeout: 10_000 });

interface Deployment {
  nats: NatsServer | undefined;
  instances: Instance[];
  stop(): Promise<void>;
}

/** `n` instances on one fresh nats-server (`n` = 0: one in-memory instance), ready and balanced. */
async function deploy(n: number, extra: string[] = []): Promise<Deployment> {
  const nats = n > 0 ? await startNatsServer() : undefined;
  const flags = [...(nats ? ['--nats', nats.url, '--lease-ttl-ms', '2000'] : []), '--shards', '1', ...extra];
  const instances: Instance[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(instances.map((instance) => instance.kill()));
    await nats?.stop();
  };
  try {
    for (let i = 0; i < Math.max(1, n); i++) instances.push(await startInstance(`i${i}`, flags));
    if (nats) await waitFor(async () => (await Promise.all(instances.map(owned))).every((list) => list.length >= Math.floor(PARTITIONS / n)), 'an even split');
  } catch (error) {
    await stop();
    throw error;
  }
  return { nats, instances, stop };
}

export async function owned(instance: Instance): Promise<number[]> {
  const res = await request(`${instance.url}/readyz`, { dispatcher: agent });
  const body = (await res.body.json()) as { jetstream?: { partitions: number[] } };
  return body.jetstream?.partitions ?? [];
}

async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

interface Settled {
  status: string;
  startedAt?: string;
  intentId: string;
}

async function post(instance: Instance, threadId: string, input: string, wait: boolean, intentId?: string): Promise<Settled> {
  const res = await request(`${instance.url}/v1/threads/${threadId}/intents${wait ? '?wait=true' : ''}`, {
    method: 'POST',
    dispatcher: agent,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ type: 'thread.turn.start', payload: { input }, ...(intentId ? { intentId } : {}) }),
  });
  const body = (await res.body.json()) as Settled;
  if (res.statusCode >= 300) throw new Error(`POST answered ${res.statusCode}: ${JSON.stringify(body)}`);
  return body;
}

async function settledCount(instances: Instance[]): Promise<number> {
  let total = 0;
  for (const instance of instances) {
    const res = await request(`${instance.url}/metrics`, { dispatcher: agent });
    for (const line of (await res.body.text()).split('\n')) {
      if (line.startsWith('lanepool_intents_total{')) total += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return total;
}

export interface Throughput {
  instances: number;
  mode: 'memory' | 'jetstream';
  intents: number;
  seconds: number;
  perSecond: number;
  /** Per intent, the instances together (Linux only): CPU µs, main-thread CPU µs, write syscalls. */
  instanceCost?: { cpuUs: number; mainThreadUs: number; writes: number };
  /** Per intent, nats-server's CPU µs (JetStream mode, Linux only). */
  natsCpuUs?: number;
  /** Per intent, messages stored in each stream of the deployment (JetStream mode). */
  messages?: Record<string, number>;
}

/**
 * Intents per second, from the first POST until every intent has settled (counted from the
 * instances' own metrics). `concurrency` client loops each take whole threads, so a thread's
 * intents are submitted one after another and different threads concurrently.
 */
export async function throughput(n: number, intents: number, threads: number, concurrency: number): Promise<Throughput> {
  const deployment = await deploy(n, ['--sim-start-ms', '0', '--sim-send-ms', '0', '--log-level', 'warn']);
  try {
    const perThread = Math.ceil(intents / threads);
    let nextThread = 0;
    let sent = 0;
    const pids = deployment.instances.map((instance) => instance.pid);
    const natsPid = deployment.nats?.process.pid;
    const before = pids.map(readProcess);
    const natsBefore = natsPid === undefined ? undefined : readProcess(natsPid);
    const started = performance.now();
    await Promise.all(Array.from({ length: concurrency }, async () => {
      for (let t = nextThread++; t < threads; t = nextThread++) {
        for (let k = 0; k < perThread && sent < intents; k++, sent++) {
          await post(deployment.instances[sent % deployment.instances.length]!, `load-${t}`, `${k}`, false);
        }
      }
    }));
    await waitFor(async () => (await settledCount(deployment.instances)) >= intents, 'every intent to settle', 300_000);
    const seconds = (performance.now() - started) / 1000;
    const instanceCost = perIntent(before, pids.map(readProcess), intents);
    const natsAfter = natsPid === undefined ? undefined : readProcess(natsPid);
    const natsCpuUs = natsBefore && natsAfter ? Math.round(((natsAfter.cpuS - natsBefore.cpuS) * 1e6) / intents) : undefined;
    const messages = deployment.nats ? await messagesPerIntent(deployment.nats.url, intents) : undefined;
    return { instances: Math.max(1, n), mode: n > 0 ? 'jetstream' : 'memory', intents, seconds, perSecond: intents / seconds, instanceCost, natsCpuUs, messages };
  } finally {
    await deployment.stop();
  }
}

/** Messages each stream of the deployment stored per intent (its last sequence: work-queue streams delete what was acked). */
async function messagesPerIntent(url: string, intents: number): Promise<Record<string, number>> {
  const nc = await connect({ servers: url });
  try {
    const counts: Record<string, number> = {};
    for await (const info of (await nc.jetstreamManager()).streams.list()) counts[info.config.name] = +(info.state.last_seq / intents).toFixed(2);
    return counts;
  } finally {
    await nc.close();
  }
}

export interface Latency {
  mode: 'memory' | 'jetstream';
  samples: number;
  p50: number;
  p90: number;
  p99: number;
}

/** Submit-to-settled latency of `samples` sequential `?wait=true` intents on one instance. */
export async function latency(mode: 'memory' | 'jetstream', samples: number): Promise<Latency> {
  const deployment = await deploy(mode === 'jetstream' ? 1 : 0);
  try {
    const instance = deployment.instances[0]!;
    for (let i = 0; i < 20; i++) await post(instance, `warm-${i % 4}`, 'warm', true);
    const times: number[] = [];
    for (let i = 0; i < samples; i++) {
      const t0 = performance.now();
      await post(instance, `latency-${i % 8}`, `${i}`, true);
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    return { mode, samples, p50: quantile(times, 0.5), p90: quantile(times, 0.9), p99: quantile(times, 0.99) };
  } finally {
    await deployment.stop();
  }
}

export interface Takeover {
  leaseTtlMs: number;
  victimPartitions: number;
  /** Per victim partition: ms from the SIGKILL to its first probe intent completing that started after it. */
  perPartitionMs: number[];
  medianMs: number;
  maxMs: number;
}

/**
 * 3 instances, one probe thread per partition sending `?wait=true` intents in a loop to live
 * instances; SIGKILL one and time how long each of its partitions takes to flow again.
 */
export async function takeover(leaseTtlMs: number): Promise<Takeover> {
  const deployment = await deploy(3, ['--lease-ttl-ms', String(leaseTtlMs), '--log-level', 'warn']);
  try {
    const probes = new Map<number, string>();
    for (let i = 0; probes.size < PARTITIONS; i++) {
      const p = shardFor(`probe-${i}`, PARTITIONS);
      if (!probes.has(p)) probes.set(p, `probe-${i}`);
    }
    const victim = deployment.instances[2]!;
    const victimPartitions = await owned(victim);
    const live = new Set(deployment.instances);
    let killedAt = Infinity;
    const flowingAt = new Map<number, number>();
    let running = true;
    const loops = [...probes].map(async ([p, threadId]) => {
      for (let i = 0; running; i++) {
        const intentId = `${threadId}-${i}`;
        for (let tries = 0; running; tries++) {
          const targets = [...live];
          try {
            const record = await post(targets[(p + tries) % targets.length]!, threadId, `${i}`, true, intentId);
            if (record.status === 'completed' && Date.parse(record.startedAt!) > killedAt && !flowingAt.has(p)) flowingAt.set(p, Date.now());
            break;
          } catch {
            await new Promise((resolve) => setTimeout(resolve, 20)); // the victim's answer was lost: same intentId elsewhere
          }
        }
      }
    });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    killedAt = Date.now();
    live.delete(victim);
    await victim.kill();
    await waitFor(async () => victimPartitions.every((p) => flowingAt.has(p)), 'the victim\'s partitions to flow again', 120_000);
    running = false;
    await Promise.all(loops);
    const perPartitionMs = victimPartitions.map((p) => flowingAt.get(p)! - killedAt).sort((a, b) => a - b);
    return { leaseTtlMs, victimPartitions: victimPartitions.length, perPartitionMs, medianMs: quantile(perPartitionMs, 0.5), maxMs: perPartitionMs.at(-1)! };
  } finally {
    await deployment.stop();
  }
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

export async function closeAgent(): Promise<void> {
  await agent.close();
}

export interface WriteCost {
  writes: number;
  /** Client CPU µs per write (this process: user + system), per round. */
  clientKvUs: number[];
  pipelinedUs: number[];
  /** Writes per second, per round. */
  clientKvPerSecond: number[];
  pipelinedPerSecond: number[];
}

/**
 * What one record write costs the client, both ways the mode could make it: the client's own
 * `kv.create` (a request per write) and the pipelined publish the mode uses (pub-acks.ts), the same
 * message on the wire. `writes` creates per round, 64 at a time, rounds alternating, against one
 * fresh nats-server; the connection without async stack traces, as the mode's.
 */
export async function writeCost(writes: number, rounds: number): Promise<WriteCost> {
  const nats = await startNatsServer();
  const nc = await connect({ servers: nats.url, noAsyncTraces: true });
  try {
    const kv = await nc.jetstream().views.kv('WRITECOST', { history: 1 });
    const acks = PubAcks.of(nc);
    const record = new TextEncoder().encode(JSON.stringify({
      intentId: '00000000-0000-4000-8000-000000000000', threadId: 'thread-1', type: 'thread.turn.start', partition: 3, status: 'queued', submittedAt: new Date().toISOString(), attempt: 0,
    }));
    const measure = async (write: (i: number) => Promise<unknown>): Promise<{ us: number; perSecond: number }> => {
      const cpu = process.cpuUsage();
      const started = performance.now();
      let next = 0;
      await Promise.all(Array.from({ length: 64 }, async () => {
        for (let i = next++; i < writes; i = next++) await write(i);
      }));
      const used = process.cpuUsage(cpu);
      return { us: (used.user + used.system) / writes, perSecond: writes / ((performance.now() - started) / 1000) };
    };
    const result: WriteCost = { writes, clientKvUs: [], pipelinedUs: [], clientKvPerSecond: [], pipelinedPerSecond: [] };
    for (let round = 0; round < rounds; round++) {
      const viaKv = await measure((i) => kv.create(`kv-${round}-${i}`, record));
      const viaAcks = await measure((i) => acks.publish(`$KV.WRITECOST.acks-${round}-${i}`, record, { 'Nats-Expected-Last-Subject-Sequence': '0' }));
      result.clientKvUs.push(+viaKv.us.toFixed(1));
      result.pipelinedUs.push(+viaAcks.us.toFixed(1));
      result.clientKvPerSecond.push(Math.round(viaKv.perSecond));
      result.pipelinedPerSecond.push(Math.round(viaAcks.perSecond));
    }
    return result;
  } finally {
    await nc.close();
    await nats.stop();
  }
}
