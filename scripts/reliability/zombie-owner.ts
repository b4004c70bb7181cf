/**
 * The zombie-owner attack on the JetStream mode: three real instances on one nats-server, a load of
 * threads each submitting a few turns back to back (so lanes hold a backlog), and one instance at a
 * time frozen with SIGSTOP for longer than the lease TTL, then resumed. While it is frozen its leases
 * expire and the others take its partitions and finish its work; when it wakes, its fence timers
 * fire late, behind the I/O that piled up, and everything it does before they fire is what this
 * scenario measures.
 *
 * The provider fixture logs every turn's begin and end (pid, intentId, attempt); every record change
 * is watched through the KV bucket. Used by test/jetstream/zombie-owner.test.ts and `npm run reliability`.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect } from 'nats';
import { request } from 'undici';
import { storeKey, type StoredIntent } from '../../src/main/jetstream/intent-store.ts';
import { startInstance, type Instance } from '../jetstream/instances.ts';

const PROVIDER = fileURLToPath(new URL('../../test/fixtures/run-log-provider.mjs', import.meta.url));

export interface ZombieOptions {
  /** The nats-server to use (a fresh stream name is used, so a server can be shared). */
  natsUrl: string;
  threads: number;
  perThread: number;
  /** How many times an instance is frozen, spread evenly over the load. */
  pauses: number;
  /** How long each freeze lasts; make it longer than the lease TTL. */
  pauseMs: number;
  leaseTtlMs: number;
  /** How long each turn spends in the provider. */
  turnMs: number;
}

interface LogLine {
  /** `cut`: the call was cancelled mid-turn; like `end`, the provider call is over. */
  ev: 'begin' | 'end' | 'cut';
  intentId: string;
  attempt: number;
  pid: number;
  at: number;
}

export interface ZombieReport {
  intents: number;
  pauses: number;
  /** Records seen settled and then written again: must be empty. */
  settledChanged: string[];
  /** `intentId#attempt` begun more than once: must be empty. */
  sameAttemptTwice: string[];
  /** Intent k begun while the latest run of intent k-1 had not ended (or been cut short): must be empty. */
  orderViolations: string[];
  /** Accepted intents whose record is not `completed` at the end, as `intentId: status`: must be empty. */
  unsettled: string[];
  /** Turns begun while another run of the same thread was in progress, not counting runs frozen mid-call by a pause (see the README's limits). */
  overlaps: number;
  /** Turns that ran again with a higher attempt after a freeze cut them short. */
  reruns: number;
  /** Sum of lanepool_jetstream_stale_writes_refused over the instances. */
  staleRefused: number;
  /** Sum of lanepool_jetstream_leases_lost over the instances. */
  leasesLost: number;
  /** Of those, lapses caught by the synchronous clock check before the (late) fence timer fired. */
  caughtByClock: number;
  seconds: number;
}

export async function runZombieOwner(options: ZombieOptions): Promise<ZombieReport> {
  const dir = mkdtempSync(join(tmpdir(), 'lanepool-zombie-'));
  const runLog = join(dir, 'runs.jsonl');
  const stream = `Z${process.pid}${Date.now().toString(36)}`;
  const flags = ['--nats', options.natsUrl, '--nats-stream', stream, '--shards', '2', '--lease-ttl-ms', String(options.leaseTtlMs),
    '--handoff-timeout-ms', '1000', '--task-timeout-ms', '0', '--handler', PROVIDER];
  const env = { LANEPOOL_RUN_LOG: runLog, LANEPOOL_TURN_MS: String(options.turnMs) };
  const instances: Instance[] = [];
  const nc = await connect({ servers: options.natsUrl });
  const started = performance.now();
  try {
    instances.push(...await Promise.all(['za', 'zb', 'zc'].map((id) => startInstance(id, flags, env))));
    await waitFor(async () => (await Promise.all(instances.map(owned))).every((list) => list.length > 0), 'every instance to own partitions', 30_000);

    const kv = await nc.jetstream().views.kv(`${stream}_intents`, { bindOnly: true });
    const latest = new Map<string, StoredIntent>();
    /** The bucket revision of each record in `latest`: a lagging watch must not count an older write, read back already, as a new one. */
    const revisions = new Map<string, number>();
    const settledChanged = new Set<string>();
    const watch = await kv.watch();
    void (async () => {
      for await (const entry of watch) {
        if (entry.operation !== 'PUT') continue;
        const record = entry.json<StoredIntent>();
        if (entry.revision <= (revisions.get(record.intentId) ?? 0)) continue;
        const before = latest.get(record.intentId);
        if (before !== undefined && before.status !== 'queued' && before.status !== 'running') settledChanged.add(record.intentId);
        latest.set(record.intentId, record);
        revisions.set(record.intentId, entry.revision);
      }
    })();

    /** Frozen spans per pid, to tell a run frozen mid-call from one begun while another ran. */
    const frozen: { pid: number; from: number; to: number }[] = [];
    const paused = new Set<Instance>();
    const total = options.threads * options.perThread;
    const pauseAt = new Set(Array.from({ length: options.pauses }, (_, i) => Math.floor(((i + 1) * total) / (options.pauses + 1))));
    let accepted = 0;
    let pauseCount = 0;
    const pausing: Promise<void>[] = [];

    const submit = async (threadId: string, intentId: string, tries = 0): Promise<void> => {
      const targets = instances.filter((instance) => !paused.has(instance));
      const target = targets[(tries + threadId.length) % targets.length]!;
      try {
        const res = await request(`${target.url}/v1/threads/${threadId}/intents`, {
          method: 'POST', headers: { 'content-type': 'application/json' }, headersTimeout: 5_000, bodyTimeout: 5_000,
          body: JSON.stringify({ type: 'thread.turn.start', payload: { input: intentId }, intentId }),
        });
        await res.body.text();
        if (res.statusCode === 202 || res.statusCode === 200) return;
        if (res.statusCode !== 503) throw new Error(`unexpected ${res.statusCode}`);
      } catch (error) {
        if (tries > 200 || (error instanceof Error && error.message.startsWith('unexpected'))) throw error;
      }
      await sleep(25);
      return submit(threadId, intentId, tries + 1);
    };
    const freeze = async (victim: Instance): Promise<void> => {
      paused.add(victim);
      const from = Date.now();
      victim.pause();
      await sleep(options.pauseMs);
      // Read before SIGCONT: a line the victim logged before `to` was written before it froze.
      frozen.push({ pid: victim.pid, from, to: Date.now() });
      victim.resume();
      paused.delete(victim);
    };

    const threads = Array.from({ length: options.threads }, (_, i) => `zthread-${i}`);
    await Promise.all(threads.map(async (threadId) => {
      for (let k = 0; k < options.perThread; k++) {
        await submit(threadId, `${threadId}-${k}`);
        if (pauseAt.has(++accepted)) {
          // Never two frozen at once: the point is one zombie among live owners.
          await Promise.all(pausing);
          pausing.push(freeze(instances[pauseCount++ % instances.length]!));
        }
        await sleep(Math.random() * 10);
      }
    }));
    await Promise.all(pausing);
    const intentIds = threads.flatMap((threadId) => Array.from({ length: options.perThread }, (_, k) => `${threadId}-${k}`));
    // The watch can fall behind under load (it has been seen to miss a final write): what it has not
    // seen completed is read from the bucket itself.
    const reread = async (): Promise<void> => {
      for (const id of intentIds.filter((i) => latest.get(i)?.status !== 'completed')) {
        const entry = await kv.get(storeKey(id));
        if (entry !== null && entry.operation === 'PUT' && entry.revision > (revisions.get(id) ?? 0)) {
          latest.set(id, entry.json<StoredIntent>());
          revisions.set(id, entry.revision);
        }
      }
    };
    await waitFor(async () => {
      const missing = intentIds.filter((id) => latest.get(id)?.status !== 'completed').length;
      if (missing > 0 && missing < 50) await reread();
      return intentIds.every((id) => latest.get(id)?.status === 'completed');
    }, 'every intent to complete', 120_000).catch(() => {});
    // A zombie's last writes land right after it wakes: give them time to show up.
    await sleep(2 * options.leaseTtlMs);
    watch.stop();
    await reread();

    if (process.env.ZOMBIE_KEEP) (await import('node:fs')).writeFileSync(join(dir, 'records.json'), JSON.stringify([...latest.values()]));
    const lines = readFileSync(runLog, 'utf8').trim().split('\n').map((text) => JSON.parse(text) as LogLine);
    const [staleRefused = 0, leasesLost = 0] = await Promise.all(['lanepool_jetstream_stale_writes_refused', 'lanepool_jetstream_leases_lost']
      .map(async (name) => (await Promise.all(instances.map((instance) => gauge(instance, name)))).reduce((a, b) => a + b, 0)));
    return {
      intents: intentIds.length,
      pauses: pauseCount,
      settledChanged: [...settledChanged].sort(),
      sameAttemptTwice: sameAttemptTwice(lines),
      orderViolations: orderViolations(lines, threads, options.perThread),
      unsettled: intentIds.filter((id) => latest.get(id)?.status !== 'completed').map((id) => `${id}: ${latest.get(id)?.status ?? 'no record'}`),
      overlaps: overlaps(lines, frozen),
      reruns: lines.filter((line) => line.ev === 'begin' && line.attempt > 1).length,
      staleRefused,
      leasesLost,
      caughtByClock: instances.reduce((n, instance) => n + instance.log().split('the fence timer was late').length - 1, 0),
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    await Promise.all(instances.map((instance) => instance.kill()));
    await nc.close();
    if (process.env.ZOMBIE_KEEP) { const fs = await import('node:fs'); for (const i of instances) fs.writeFileSync(join(dir, `${i.id}-${i.pid}.log`), i.log()); console.log('kept', dir); } else rmSync(dir, { recursive: true, force: true });
  }
}

function threadOf(intentId: string): string {
  return intentId.slice(0, intentId.lastIndexOf('-'));
}

function sameAttemptTwice(lines: LogLine[]): string[] {
  const seen = new Map<string, number>();
  for (const line of lines) if (line.ev === 'begin') seen.set(`${line.intentId}#${line.attempt}`, (seen.get(`${line.intentId}#${line.attempt}`) ?? 0) + 1);
  return [...seen].filter(([, count]) => count > 1).map(([run]) => run).sort();
}

/** As in sigkill.test.ts: when intent k begins, the latest run of intent k-1 begun before it has ended. */
function orderViolations(lines: LogLine[], threads: string[], perThread: number): string[] {
  const runs = new Map<string, { line: LogLine; index: number }[]>();
  lines.forEach((line, index) => (runs.get(line.intentId) ?? runs.set(line.intentId, []).get(line.intentId)!).push({ line, index }));
  const violations: string[] = [];
  for (const threadId of threads) {
    for (let k = 1; k < perThread; k++) {
      const previous = runs.get(`${threadId}-${k - 1}`) ?? [];
      for (const begin of (runs.get(`${threadId}-${k}`) ?? []).filter((r) => r.line.ev === 'begin')) {
        const before = previous.filter((r) => r.index < begin.index);
        const lastBegin = before.filter((r) => r.line.ev === 'begin').at(-1);
        const ended = lastBegin !== undefined && before.some((r) => r.line.ev !== 'begin' && r.line.attempt === lastBegin.line.attempt
          && r.line.pid === lastBegin.line.pid && r.index > lastBegin.index);
        if (!ended) violations.push(`${threadId}-${k}#${begin.line.attempt}`);
      }
    }
  }
  return violations;
}

/**
 * Begins while another run of the same thread is open, where a run frozen mid-call does not count:
 * one the paused process began before it was resumed (it cannot log while stopped, so it began
 * before it froze), seen from a begin after the pause started.
 */
function overlaps(lines: LogLine[], frozen: { pid: number; from: number; to: number }[]): number {
  const open = new Map<string, Map<string, LogLine>>();
  let count = 0;
  for (const line of lines) {
    const threadId = threadOf(line.intentId);
    const runs = open.get(threadId) ?? open.set(threadId, new Map()).get(threadId)!;
    const run = `${line.intentId}#${line.attempt}@${line.pid}`;
    if (line.ev !== 'begin') {
      runs.delete(run);
      continue;
    }
    const live = [...runs.values()].filter((other) => !frozen.some((f) => f.pid === other.pid && other.at < f.to && line.at >= f.from));
    if (live.length > 0) count++;
    runs.set(run, line);
  }
  return count;
}

async function owned(instance: Instance): Promise<number[]> {
  const res = await request(`${instance.url}/readyz`);
  return ((await res.body.json()) as { jetstream?: { partitions: number[] } }).jetstream?.partitions ?? [];
}

/** A gauge from GET /metrics; 0 if the instance does not report it. */
async function gauge(instance: Instance, name: string): Promise<number> {
  const res = await request(`${instance.url}/metrics`);
  const text = await res.body.text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? 0 : Number(line.split(' ')[1]);
}

async function waitFor(check: () => Promise<boolean> | boolean, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
