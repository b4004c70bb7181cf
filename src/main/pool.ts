/**
 * LanePool: routes each task by key to a fixed shard (worker thread), where the key's lane runs its
 * tasks one at a time, in order, while other keys run concurrently.
 */
import { DrainTimeoutError, LaneCancelledError, PoolClosedError, QueueFullError } from '../shared/errors.ts';
import {
  checkCloseOptions, checkDrainOptions, checkKey, resolvePoolOptions, resolveRunOptions,
  type CloseOptions, type DrainOptions, type LanePoolOptions, type ResolvedOptions, type RunOptions,
} from './options.ts';
import type { WorkerLaneStats } from '../shared/protocol.ts';
import type { PendingTask } from './pending-task.ts';
import { shardFor } from './routing.ts';
import { Shard, type ShardStats } from './shard.ts';
import { Watchdog } from './watchdog.ts';

type Counter = Exclude<keyof ShardStats, 'id' | 'state' | 'restartsByReason'>;

/** Pool-wide totals of every shard counter, plus one entry per shard. */
export interface PoolStats extends Record<Counter, number> {
  shards: ShardStats[];
}

// A record, not a list, so the compiler insists on every counter ShardStats has.
const COUNTERS = Object.keys({
  lanes: true, queued: true, running: true, completed: true, failed: true, timedOut: true, cancelled: true, abandoned: true, restarts: true, replayed: true,
} satisfies Record<Counter, true>) as Counter[];

interface DrainWaiter {
  resolve(): void;
  timer: NodeJS.Timeout | undefined;
}

export class LanePool<P = unknown, R = unknown> {
  readonly #options: ResolvedOptions;
  readonly #shards: Shard[];
  readonly #drainWaiters = new Set<DrainWaiter>();
  /** Accepted tasks not yet settled, pool-wide. Only Shard#settle (through #onSettled) lowers it. */
  #pending = 0;
  #nextId = 0;
  #closed = false;
  #closing: Promise<void> | undefined;
  readonly #watchdog: Watchdog | undefined;

  /**
   * Starts `shards` workers, each loading `handler`.
   * @throws TypeError | RangeError naming the bad option.
   */
  constructor(options: LanePoolOptions) {
    this.#options = resolvePoolOptions(options);
    const onSettled = (): void => this.#onSettled();
    this.#shards = Array.from({ length: this.#options.shards }, (_, id) => new Shard(id, this.#options, onSettled, this));
    this.#watchdog = this.#options.stallTimeoutMs > 0 ? new Watchdog(this.#shards, this.#options.stallTimeoutMs) : undefined;
  }

  /** The number of shards (worker threads). */
  get shards(): number {
    return this.#options.shards;
  }

  /**
   * Runs `payload` through the handler on the key's shard, after every earlier task of the same key.
   * Rejects with the handler's error, `LaneTimeoutError`, `LaneCancelledError`, `QueueFullError`,
   * `PoolClosedError`, or a TypeError/RangeError for a bad key or option.
   */
  run(key: string, payload: P, options?: RunOptions): Promise<R> {
    let run;
    try {
      checkKey(key);
      run = resolveRunOptions(options, this.#options.taskTimeoutMs);
    } catch (error) {
      return Promise.reject(error);
    }
    const { signal, control, timeoutMs, onStart, retry, attempt } = run;
    if (signal?.aborted) return Promise.reject(new LaneCancelledError({ key, reason: abortReason(signal) }));
    const shard = this.#shards[shardFor(key, this.#shards.length)]!;
    const refusal = this.#refusal(shard, key, control);
    if (refusal !== undefined) return Promise.reject(refusal);

    return new Promise<R>((resolve, reject) => {
      const id = ++this.#nextId;
      const task: PendingTask = {
        id, key, control, retry, attempts: 0, started: false, message: { t: 'run', id, key, payload, timeoutMs, control, attempt },
        resolve: resolve as (value: unknown) => void, reject, onStart, detachSignal: undefined,
      };
      if (signal !== undefined) {
        const onAbort = (): void => shard.cancelTask(task, abortReason(signal));
        signal.addEventListener('abort', onAbort, { once: true });
        task.detachSignal = () => signal.removeEventListener('abort', onAbort);
      }
      this.#pending++;
      shard.submit(task);
    });
  }

  /**
   * The error `run(key, ..., { priority })` would reject with at once right now (`PoolClosedError`,
   * `QueueFullError`, or the shard's `HandlerLoadError`), or undefined if it would be accepted. A
   * service uses it to answer "busy" before promising to run anything; since JavaScript runs one
   * thing at a time, a `run()` made in the same synchronous step sees the same answer.
   */
  checkAdmission(key: string, priority: 'normal' | 'control' = 'normal'): Error | undefined {
    checkKey(key);
    return this.#refusal(this.#shards[shardFor(key, this.#shards.length)]!, key, priority === 'control');
  }

  #refusal(shard: Shard, key: string, control: boolean): Error | undefined {
    if (this.#closed) return new PoolClosedError();
    if (shard.failure) return shard.failure;
    const { maxQueuedPerKey, maxQueued } = this.#options;
    if (!control && shard.load(key) >= maxQueuedPerKey) return new QueueFullError({ key, limit: 'maxQueuedPerKey', max: maxQueuedPerKey });
    if (this.#pending >= maxQueued) return new QueueFullError({ key, limit: 'maxQueued', max: maxQueued });
    return undefined;
  }

  /**
   * Cancels every unsettled task of `key`: the running one's `ctx.signal` fires and its lane moves on;
   * queued ones are dropped. All reject with `LaneCancelledError`. Tasks submitted afterwards run normally.
   * @returns the number of tasks cancelled.
   */
  cancel(key: string, reason = 'cancelled by caller'): number {
    checkKey(key);
    if (typeof reason !== 'string') throw new TypeError(`reason must be a string, got ${typeof reason}`);
    return this.#shards[shardFor(key, this.#shards.length)]!.cancelKey(key, reason);
  }

  /**
   * Resolves when no task is queued or running, including tasks added while draining; at once if idle.
   * With `timeoutMs`, rejects with `DrainTimeoutError` listing the busy keys.
   */
  drain(options?: DrainOptions): Promise<void> {
    let timeoutMs;
    try {
      timeoutMs = checkDrainOptions(options);
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.#pending === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter: DrainWaiter = { resolve, timer: undefined };
      if (timeoutMs !== undefined) {
        waiter.timer = setTimeout(() => {
          this.#drainWaiters.delete(waiter);
          reject(new DrainTimeoutError({ keys: this.busyKeys(), timeoutMs }));
        }, timeoutMs);
      }
      this.#drainWaiters.add(waiter);
    });
  }

  /** Keys that have queued or running tasks. */
  busyKeys(): string[] {
    return this.#shards.flatMap((shard) => shard.busyKeys());
  }

  /** Resolves once every worker has loaded the handler; rejects with `HandlerLoadError` if one cannot. */
  async ready(): Promise<void> {
    await Promise.all(this.#shards.map((shard) => shard.ready()));
  }

  /**
   * Each worker's own view of its lane table, asked over the channel and answered after every message
   * sent before the call. `undefined` for a shard without a live worker. Meant for tests and debugging.
   */
  inspect(): Promise<(WorkerLaneStats | undefined)[]> {
    return Promise.all(this.#shards.map((shard) => shard.inspect()));
  }

  /** A snapshot of the pool's counters. Cheap: read from the main thread's own bookkeeping. */
  stats(): PoolStats {
    const shards = this.#shards.map((shard) => shard.stats());
    const totals = Object.fromEntries(COUNTERS.map((field) => [field, shards.reduce((sum, s) => sum + s[field], 0)]));
    return { shards, ...(totals as Record<Counter, number>) };
  }

  /** The shard `key` routes to (see routing.ts for the hash). Pure: depends only on the key and shard count. */
  shardOf(key: string): number {
    checkKey(key);
    return shardFor(key, this.#shards.length);
  }

  /**
   * Stops accepting tasks (`run()` then rejects with `PoolClosedError`), waits for accepted tasks to
   * settle, and stops the workers. With `{ force: true }` it cancels them instead of waiting.
   * Calling it again returns the same promise (forcing, if asked).
   */
  close(options?: CloseOptions): Promise<void> {
    let force;
    try {
      force = checkCloseOptions(options);
    } catch (error) {
      return Promise.reject(error);
    }
    this.#closed = true;
    if (force) for (const shard of this.#shards) shard.cancelAll('pool closed');
    this.#closing ??= this.drain().then(async () => {
      this.#watchdog?.stop();
      await Promise.all(this.#shards.map((shard) => shard.close()));
    });
    return this.#closing;
  }

  #onSettled(): void {
    this.#pending--;
    if (this.#pending > 0 || this.#drainWaiters.size === 0) return;
    for (const waiter of this.#drainWaiters) {
      clearTimeout(waiter.timer);
      waiter.resolve();
    }
    this.#drainWaiters.clear();
  }
}

function abortReason(signal: AbortSignal): string {
  const reason: unknown = signal.reason;
  if (reason instanceof Error) return `signal aborted: ${reason.message}`;
  return reason === undefined ? 'signal aborted' : `signal aborted: ${String(reason)}`;
}
