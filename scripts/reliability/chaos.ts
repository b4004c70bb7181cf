/**
 * The chaos scenario: thousands of tasks over many keys, with stalls, crashes, deadlines and cancels
 * injected at random (seeded), checked for exactly-once settlement and per-key order.
 */
import { LanePool } from '../../src/main/index.ts';

export interface ChaosOptions {
  tasks: number;
  keys: number;
  stalls: number;
  crashes: number;
  stallTimeoutMs: number;
  seed: number;
}

export interface ChaosReport {
  submitted: number;
  settled: number;
  settledTwice: number;
  outcomes: Record<string, number>;
  orderViolations: number;
  restarts: { stall: number; crash: number; oom: number };
  replayed: number;
  healthyAtEnd: boolean;
  seconds: number;
}

/** `Pool` is the LanePool class to run: the sources' by default, dist/'s from `npm run reliability`. */
export async function runChaos(options: ChaosOptions, Pool: typeof LanePool = LanePool): Promise<ChaosReport> {
  let seed = options.seed >>> 0;
  const random = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const pool = new Pool({ handler: new URL('./chaos-handler.mjs', import.meta.url), shards: 2, stallTimeoutMs: options.stallTimeoutMs });
  await pool.ready();
  const started = performance.now();
  const keys = Array.from({ length: options.keys }, (_, i) => `chaos-${i}`);
  // Failures go at random positions, so they land among ordinary work.
  const inject = new Map<number, 'spin' | 'exit'>();
  while (inject.size < options.stalls + options.crashes) {
    inject.set(1 + Math.floor(random() * (options.tasks - 2)), inject.size < options.stalls ? 'spin' : 'exit');
  }
  // Injected failures must each run exactly once, so their keys are never cancelled and they never
  // get a caller signal or a retry: then the restart counts are exact.
  const protectedKeys = new Set<string>();
  const settledCount = new Map<number, number>();
  const outcomes: Record<string, number> = {};
  const completedSeqs = new Map<string, number[]>();
  const runs: Promise<void>[] = [];

  for (let n = 0; n < options.tasks; n++) {
    const key = keys[Math.floor(random() * keys.length)]!;
    const roll = random();
    const op = inject.get(n) ?? (roll < 0.03 ? 'hang' : 'work');
    if (inject.has(n)) protectedKeys.add(key);
    const controller = !inject.has(n) && roll > 0.96 ? new AbortController() : undefined;
    const run = pool.run(key, { op, seq: n, yields: Math.floor(random() * 3) }, {
      ...(op === 'hang' ? { timeoutMs: 20 } : {}),
      ...(controller ? { signal: controller.signal } : {}),
      // Injected failures never retry, so each stalls or crashes exactly once; ordinary work may.
      ...(op === 'work' && roll > 0.9 && roll <= 0.96 ? { retry: 'idempotent' as const } : {}),
    });
    runs.push(run.then(
      (seq) => {
        outcomes.completed = (outcomes.completed ?? 0) + 1;
        (completedSeqs.get(key) ?? completedSeqs.set(key, []).get(key)!).push(seq as number);
      },
      (error: { code?: string }) => {
        const code = error.code ?? 'OTHER';
        outcomes[code] = (outcomes[code] ?? 0) + 1;
      },
    ).finally(() => settledCount.set(n, (settledCount.get(n) ?? 0) + 1)));
    if (controller) (random() < 0.5 ? queueMicrotask : setImmediate)(() => controller.abort());
    if (random() < 0.004) {
      // A cancel reaches only tasks already submitted, so sparing keys that hold an injected task suffices.
      const victim = keys[Math.floor(random() * keys.length)]!;
      if (!protectedKeys.has(victim)) pool.cancel(victim, 'chaos');
    }
    if (random() < 0.02) await new Promise((resolve) => setTimeout(resolve, random() * 5));
  }
  await Promise.all(runs);
  await pool.drain();

  let orderViolations = 0;
  for (const seqs of completedSeqs.values()) for (let i = 1; i < seqs.length; i++) if (seqs[i]! <= seqs[i - 1]!) orderViolations++;
  // Healthy: every shard back to ready, no lane left anywhere, and a task runs on every shard.
  const deadline = Date.now() + 30_000;
  while (pool.stats().shards.some((s) => s.state !== 'ready') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  const probes = await Promise.all(keys.map((key) => pool.run(key, { op: 'work', seq: -1, yields: 0 }).then(() => true, () => false)));
  const workers = await pool.inspect();
  const stats = pool.stats();
  const healthyAtEnd = probes.every(Boolean) && stats.lanes === 0 && stats.shards.every((s) => s.state === 'ready')
    && workers.every((w) => w !== undefined && w.lanes === 0 && w.queued === 0);
  const restarts = { stall: 0, crash: 0, oom: 0 };
  for (const s of stats.shards) for (const reason of ['stall', 'crash', 'oom'] as const) restarts[reason] += s.restartsByReason[reason];
  await pool.close({ force: true });
  return {
    submitted: options.tasks,
    settled: settledCount.size,
    settledTwice: [...settledCount.values()].filter((count) => count !== 1).length,
    outcomes,
    orderViolations,
    restarts,
    replayed: stats.replayed,
    healthyAtEnd,
    seconds: (performance.now() - started) / 1000,
  };
}
