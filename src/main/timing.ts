/**
 * Wait-time and run-time distributions, kept on the main thread from the messages it already
 * receives, in `perf_hooks` histograms (HDR: fixed memory, whatever the task count).
 *
 * - wait: from `run()` accepting a task to the worker's report that its handler was called;
 * - run: from that report to the task's settlement (by any path, a release included).
 *
 * Both are measured on the main thread, so they include the thread hop and the batching delay: they
 * are what the caller experiences. Values are recorded in microseconds and reported in ms.
 */
import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';

/** A distribution, in milliseconds; all zero while `count` is 0. */
export interface Timing {
  count: number;
  p50: number;
  p99: number;
  max: number;
  mean: number;
}

export class Timings {
  readonly wait: RecordableHistogram = createHistogram();
  readonly run: RecordableHistogram = createHistogram();

  recordWait(ms: number): void {
    this.wait.record(micros(ms));
  }

  recordRun(ms: number): void {
    this.run.record(micros(ms));
  }
}

/** Pool-wide figures, merged from the shards' histograms when asked: one record per event on the hot path. */
export function merged(timings: Timings[], which: 'wait' | 'run'): Timing {
  const all = createHistogram();
  for (const t of timings) all.add(t[which]);
  return summarize(all);
}

/** Histograms take integers of at least 1. */
function micros(ms: number): number {
  return Math.max(1, Math.round(ms * 1000));
}

export function summarize(histogram: RecordableHistogram): Timing {
  if (histogram.count === 0) return { count: 0, p50: 0, p99: 0, max: 0, mean: 0 };
  return {
    count: histogram.count,
    p50: histogram.percentile(50) / 1000,
    p99: histogram.percentile(99) / 1000,
    max: histogram.max / 1000,
    mean: histogram.mean / 1000,
  };
}

/**
 * The share of wall-clock time a shard had at least one task running, since it was made: 0 to 1.
 * Lanes run concurrently, so this says "busy", not "saturated".
 */
export class Utilization {
  readonly #since = performance.now();
  #busyMs = 0;
  #busySince = 0;

  /** The shard went from no running task to one. */
  busy(now: number): void {
    this.#busySince = now;
  }

  /** The shard went from one running task to none. */
  idle(now: number): void {
    this.#busyMs += now - this.#busySince;
  }

  read(running: boolean): number {
    const now = performance.now();
    const elapsed = now - this.#since;
    if (elapsed <= 0) return 0;
    return Math.min(1, (this.#busyMs + (running ? now - this.#busySince : 0)) / elapsed);
  }
}
