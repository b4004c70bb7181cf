/**
 * LanePool: routes each task by key to a fixed shard (worker thread), where the key's lane runs its
 * tasks one at a time, in order, while other keys run concurrently.
 */
import { DataCloneError, DrainTimeoutError, LaneCancelledError, PoolClosedError, QueueFullError, messageOf } from '../shared/errors.ts';
import {
  checkCloseOptions, checkDrainOptions, checkInspectOptions, checkKey, resolvePoolOptions, resolveRunOptions,
  type CloseOptions, type DrainOptions, type InspectOptions, type LanePoolOptions, type ResolvedOptions, type RunOptions,
} from './options.ts';
import type { WorkerReport } from '../shared/protocol.ts';
import type { PendingTask } from './pending-task.ts';
import { estimateBytes } from './payload-size.ts';
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
  lanes: true, queued: true, queuedBytes: true, running: true, completed: true, failed: true, timedOut: true, cancelled: true, abandoned: true, restarts: true, replayed: true,
} satisfies Record<Counter, true>) as Counter[];

interface DrainWaiter {
  resolve(): void;
  timer: NodeJS.Timeout | undefined;
}

export class LanePool<P = unknown, R = unknown> {
  readonly #options: ResolvedOptions;
  readonly #shards: Shard[];
  readonly #drainWaiters = new Set<DrainWaiter>();
  /*
   * Admission bookkeeping, pool-wide. Raised in run() in the same synchronous step as its admission
   * check, lowered only by Shard#settle (through #onSettled), which every settlement path goes through.
   */
  /** Accepted tasks not yet settled, control tasks included (drain waits for all of them). */
  #pending = 0;
  /** Of `#pending`, the control tasks: bounded by `maxQueuedControl` alone. */
  #control = 0;
  /** Sum of the unsettled tasks' `bytes`: bounded by `maxQueuedBytes`. */
  #bytes = 0;
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
    const onSettled = (task: PendingTask): void => this.#onSettled(task);
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
    let bytes;
    try {
      checkKey(key);
      run = resolveRunOptions(options, this.#options.taskTimeoutMs);
    } catch (error) {
      return Promise.reject(error);
    }
    try {
      bytes = run.control ? 0 : run.bytes ?? estimateBytes(payload);
    } catch (error) {
      // The walk reads the payload as structured clone would: a getter that throws here would throw
      // there too, so the payload cannot cross, and the caller hears it as such (never a throw).
      return Promise.reject(new DataCloneError({ key, what: 'payload', detail: messageOf(error) }));
    }
    const { signal, control, timeoutMs, onStart, retry, attempt } = run;
    if (signal?.aborted) return Promise.reject(new LaneCancelledError({ key, reason: abortReason(signal) }));
    const shard = this.#shards[shardFor(key, this.#shards.length)]!;
    const refusal = this.#refusal(shard, key, control, bytes);
    if (refusal !== undefined) return Promise.reject(refusal);

    return new Promise<R>((resolve, reject) => {
      const id = ++this.#nextId;
      const task: PendingTask = {
        id, key, control, bytes, retry, attempts: 0, started: false, message: { t: 'run', id, key, payload, timeoutMs, control, attempt },
        resolve: resolve as (value: unknown) => void, reject, onStart, detachSignal: undefined,
      };
      if (signal !== undefined) {
        const onAbort = (): void => shard.cancelTask(task, abortReason(signal));
        signal.addEventListener('abort', onAbort, { once: true });
        task.detachSignal = () => signal.removeEventListener('abort', onAbort);
      }
      this.#pending++;
      if (control) this.#control++;
      this.#bytes += bytes;
      shard.submit(task);
    });
  }

  /**
   * The error `run(key, ..., { priority, bytes })` would reject with at once right now
   * (`PoolClosedError`, `QueueFullError`, or the shard's `HandlerLoadError`), or undefined if it
   * would be accepted. A service uses it to answer "busy" before promising to run anything; since
   * JavaScript runs one thing at a time, a `run()` made in the same synchronous step sees the same
   * answer. `bytes` is the size the run will count (its `bytes` option or `estimateBytes(payload)`).
   */
  checkAdmission(key: string, priority: 'normal' | 'control' = 'normal', bytes = 0): Error | undefined {
    checkKey(key);
    if (!Number.isSafeInteger(bytes) || bytes < 0) throw new RangeError(`bytes must be a non-negative integer, got ${String(bytes)}`);
    const control = priority === 'control';
    return this.#refusal(this.#shards[shardFor(key, this.#shards.length)]!, key, control, control ? 0 : bytes);
  }

  /**
   * Control tasks are counted apart: only `maxQueuedControl` bounds them, so a full pool still takes
   * a stop. A task bigger than a byte bound alone is admitted when nothing else holds bytes there,
   * so the bound is passed by at most that one task and the task can still run.
   */
  #refusal(shard: Shard, key: string, control: boolean, bytes: number): Error | undefined {
    if (this.#closed) return new PoolClosedError();
    if (shard.failure) return shard.failure;
    const o = this.#options;
    if (control) {
      return this.#control >= o.maxQueuedControl ? new QueueFullError({ key, limit: 'maxQueuedControl', max: o.maxQueuedControl }) : undefined;
    }
    if (shard.load(key) >= o.maxQueuedPerKey) return new QueueFullError({ key, limit: 'maxQueuedPerKey', max: o.maxQueuedPerKey });
    if (this.#pending - this.#control >= o.maxQueued) return new QueueFullError({ key, limit: 'maxQueued', max: o.maxQueued });
    const keyBytes = shard.bytes(key);
    if (keyBytes > 0 && keyBytes + bytes > o.maxQueuedBytesPerKey) {
      return new QueueFullError({ key, limit: 'maxQueuedBytesPerKey', max: o.maxQueuedBytesPerKey });
    }
    if (this.#bytes > 0 && this.#bytes + bytes > o.maxQueuedBytes) return new QueueFullError({ key, limit: 'maxQueuedBytes', max: o.maxQueuedBytes });
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
   * Each worker's own report, asked over the channel and answered after every message sent before the
   * call: its lane table, its V8 heap, and its handler module's gauges (`stats` export). `undefined`
   * for a shard without a live worker, or, with `timeoutMs`, one that has not answered in time (a
   * frozen worker), so a caller such as a metrics scrape cannot hang on it.
   */
  inspect(options?: InspectOptions): Promise<(WorkerReport | undefined)[]> {
    let timeoutMs;
    try {
      timeoutMs = checkInspectOptions(options);
    } catch (error) {
      return Promise.reject(error);
    }
    return Promise.all(this.#shards.map((shard) => shard.inspect(timeoutMs)));
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

  #onSettled(task: PendingTask): void {
    this.#pending--;
    if (task.control) this.#control--;
    this.#bytes -= task.bytes;
    if (this.#pending > 0 || this.#drainWaiters.size === 0) return;
    for (const waiter of this.#drainWaiters) {
      clearTimeout(waiter.timer);
      waiter.resolve();
    }
    this.#drainWaiters.clear();
  }
}

/**
 * The reason is the caller's value, read in run() and in an abort listener, where a throw would
 * escape run() or become an uncaught exception that leaves the task running: a message getter or
 * toString that throws (or a null-prototype object) is described by `messageOf` instead.
 */
function abortReason(signal: AbortSignal): string {
  const reason: unknown = signal.reason;
  if (reason === undefined) return 'signal aborted';
  try {
    return `signal aborted: ${reason instanceof Error ? reason.message : String(reason)}`;
  } catch {
    return `signal aborted: ${messageOf(reason)}`;
  }
}
