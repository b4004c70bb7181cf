/**
 * Drives one plan against one target within a time budget and measures it.
 *
 * Hung threads send all their intents at once at the start, like clients stuck behind a hung session
 * start. Healthy threads go through `concurrency` slots; each sends all its intents at once
 * (pipelined), so the design, not the client, decides the order they run in, and the session cursor
 * each completed turn reports must rise 1, 2, 3, ... in submission order or it is an order violation.
 * When every healthy intent has settled or the budget runs out, each hung thread is sent a stop.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { within } from '../../src/shared/within.ts';
import type { PlannedThread } from './plan.ts';
import type { Outcome, Target } from './target.ts';

export interface RunOptions {
  concurrency: number;
  budgetMs: number;
  /** How long a stop may take to count as having worked. */
  stopTimeoutMs: number;
  onProgress?: (done: number, total: number, elapsedMs: number) => void;
}

export interface ModeResult {
  mode: string;
  /** Fraction of threads planned to hang. */
  hung: number;
  healthy: { planned: number; completed: number; failed: number; blocked: number };
  latencyMs: { p50: number; p95: number; p99: number; max: number };
  throughput: number;
  loopLagP99Ms: number;
  orderViolations: number;
  /** submitted - settled once everything should have settled; null when the mode left work blocked. */
  lost: number | null;
  /** `stopMs`: how long each stop that worked took, from sending it to its success (with codex: to its process gone). */
  hungThreads: { count: number; stopped: number; stopMs: number[] };
  /** `--provider codex`: agent processes still running once the mode closed (set by runLoadTest). */
  orphans?: number;
  finished: boolean;
  elapsedMs: number;
  /** Healthy latencies, sorted, for the report's chart. */
  latencies: number[];
  /** When each healthy intent completed, in ms since the run started, in order: the report's progress chart. */
  completedAtMs: number[];
  /** When the hung threads' intents were sent, in ms since the run started (the report marks it). */
  hungStartedAtMs: number;
}

let runs = 0;

export async function runMode(target: Target, plan: PlannedThread[], hungFraction: number, options: RunOptions): Promise<ModeResult> {
  const prefix = `${target.mode}-${++runs}-`;
  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();
  const started = performance.now();
  let submitted = 0;
  let settled = 0;
  const latencies: number[] = [];
  const completedAtMs: number[] = [];
  const healthyPlanned = plan.filter((t) => !t.hung).reduce((n, t) => n + t.intents.length, 0);
  let healthyCompleted = 0;
  let healthyFailed = 0;
  let orderViolations = 0;
  const allSettled: Promise<unknown>[] = [];

  const send = (threadId: string, thread: PlannedThread): Promise<Outcome>[] =>
    thread.intents.map((intent) => {
      submitted++;
      const sentAt = performance.now();
      const result = target.submit(threadId, intent).then((outcome) => {
        settled++;
        if (!thread.hung) {
          if (outcome.ok) {
            healthyCompleted++;
            latencies.push(performance.now() - sentAt);
            completedAtMs.push(performance.now() - started);
          } else {
            healthyFailed++;
          }
          options.onProgress?.(healthyCompleted + healthyFailed, healthyPlanned, performance.now() - started);
        }
        return outcome;
      });
      allSettled.push(result);
      return result;
    });

  const hungStartedAtMs = performance.now() - started;
  for (const thread of plan.filter((t) => t.hung)) void send(prefix + thread.name, thread);

  const healthy = plan.filter((t) => !t.hung);
  let next = 0;
  const slot = async (): Promise<void> => {
    while (next < healthy.length) {
      const thread = healthy[next++]!;
      const outcomes = await Promise.all(send(prefix + thread.name, thread));
      let expected: number | undefined;
      for (const outcome of outcomes) {
        if (outcome.cursor === undefined) continue;
        if (expected !== undefined && outcome.cursor !== expected) orderViolations++;
        expected = outcome.cursor + 1;
      }
    }
  };
  const slots = Promise.all(Array.from({ length: Math.min(options.concurrency, healthy.length) }, slot));
  let timer: NodeJS.Timeout | undefined;
  const budget = new Promise<void>((resolve) => (timer = setTimeout(resolve, options.budgetMs)));
  await Promise.race([slots, budget]);
  clearTimeout(timer);
  const elapsedMs = performance.now() - started;

  // Stop every hung thread, the way the design allows.
  const hungThreads = plan.filter((t) => t.hung);
  // Stopped: the design said ok within the timeout (a refusal or a rejection is not stopped).
  const stopOk = (outcome: Outcome): void => {
    if (!outcome.ok) throw new Error(`stop refused: ${outcome.code ?? 'no code'}`);
  };
  const stopMs: number[] = [];
  const stops = await Promise.all(hungThreads.map((thread) => {
    const sentAt = performance.now();
    const stop = target.stop(prefix + thread.name).then(stopOk).then(() => void stopMs.push(performance.now() - sentAt));
    return within(stop, options.stopTimeoutMs);
  }));
  const stopped = stops.filter(Boolean).length;
  stopMs.sort((a, b) => a - b);
  lag.disable();

  const blocked = healthyPlanned - healthyCompleted - healthyFailed;
  const finished = blocked === 0 && stopped === hungThreads.length;
  let lost: number | null = null;
  if (finished) {
    // Everything accepted should settle now (stopped threads' intents as cancelled): count what does not.
    await within(Promise.all(allSettled), 5_000);
    lost = submitted - settled;
  }
  latencies.sort((a, b) => a - b);
  return {
    mode: target.mode,
    hung: hungFraction,
    healthy: { planned: healthyPlanned, completed: healthyCompleted, failed: healthyFailed, blocked },
    latencyMs: { p50: percentile(latencies, 0.5), p95: percentile(latencies, 0.95), p99: percentile(latencies, 0.99), max: latencies.at(-1) ?? NaN },
    throughput: (healthyCompleted / elapsedMs) * 1000,
    loopLagP99Ms: lag.percentile(99) / 1e6,
    orderViolations,
    lost,
    hungThreads: { count: hungThreads.length, stopped, stopMs: stopMs.slice(0, stopped) },
    finished,
    elapsedMs,
    latencies,
    completedAtMs,
    hungStartedAtMs,
  };
}

export function percentile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}
