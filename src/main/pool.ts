/**
 * LanePool: routes each task by key to a fixed shard (worker thread), where the key's lane runs its
 * tasks one at a time, in order, while other keys run concurrently.
 */
import { EventEmitter } from 'node:events';
import { DataCloneError, DrainTimeoutError, LaneCancelledError, PoolClosedError, QueueFullError, messageOf } from '../shared/errors.ts';
import type { EventOf, HandlerContext, PayloadOf, ResultOf } from '../shared/handler.ts';
import {
  checkCloseOptions, checkDrainOptions, checkInspectOptions, checkKey, checkReadyOptions, resolvePoolOptions, resolveRunOptions,
  type CloseOptions, type DrainOptions, type InspectOptions, type LanePoolOptions, type ReadyOptions, type ResolvedOptions, type ResolvedRun, type RunOptions,
} from './options.ts';
import type { WorkerReport } from '../shared/protocol.ts';
import { drainObserved, publishDrain, taskChannel, type TaskContext } from './channels.ts';
import type { PendingTask } from './pending-task.ts';
import { estimateBytes } from '../shared/payload-size.ts';
import { shardFor } from './routing.ts';
import { Shard, type ShardStateEvent, type ShardStats } from './shard.ts';
import { merged, type Timing } from './timing.ts';
import { unlessAborted, waitFor } from './waiting.ts';
import { Watchdog } from './watchdog.ts';

type Counter = Exclude<keyof ShardStats, 'id' | 'state' | 'restartsByReason' | 'wait' | 'run' | 'utilization'>;

/** Pool-wide totals of every shard counter, plus one entry per shard. */
export interface PoolStats extends Record<Counter, number> {
  shards: ShardStats[];
  /** Pool-wide: from acceptance to the handler's start, in ms. */
  wait: Timing;
  /** Pool-wide: from the handler's start to settlement, in ms. */
  run: Timing;
  /** The shards' mean utilization (0 to 1). */
  utilization: number;
}

/** The events a LanePool emits (`pool.on(name, listener)`). */
export interface LanePoolEvents {
  /** A shard's worker changed state (starting, ready, recovering, backoff, failed, closed). */
  shardState: [event: ShardStateEvent];
}

type AnyHandler = (payload: never, ctx: HandlerContext) => unknown;
/** `P` itself, or the payload of the handler (or handler module) `P` is the type of. */
export type PoolPayload<P> = [P] extends [AnyHandler] ? PayloadOf<P> : [P] extends [{ default: infer H extends AnyHandler }] ? PayloadOf<H> : P;
/** `R`, or the result of the handler (or handler module) `P` is the type of. */
export type PoolResult<P, R> = [P] extends [AnyHandler] ? ResultOf<P> : [P] extends [{ default: infer H extends AnyHandler }] ? ResultOf<H> : R;
/** `E`, or the event type of the handler (or handler module) `P` is the type of: what `onEvent` receives. */
export type PoolEvent<P, E> = [P] extends [AnyHandler] ? EventOf<P> : [P] extends [{ default: infer H extends AnyHandler }] ? EventOf<H> : E;

// A record, not a list, so the compiler insists on every counter ShardStats has.
const COUNTERS = Object.keys({
  lanes: true, queued: true, queuedBytes: true, running: true, completed: true, failed: true, timedOut: true, cancelled: true, abandoned: true, restarts: true, replayed: true,
  events: true, eventsDelivered: true, eventsDropped: true,
} satisfies Record<Counter, true>) as Counter[];

/**
 * Typed either by its handler, so `run()` infers both sides, or by hand:
 *
 * @example
 * import type handler from './handler.ts';
 * const pool = new LanePool<typeof handler>({ handler: new URL('./handler.ts', import.meta.url) });
 * const n = await pool.run('k', { n: 1 });           // payload checked, result inferred
 * const same = new LanePool<{ n: number }, number>({ handler: ... });
 * const withEvents = new LanePool<{ n: number }, number, { done: number }>({ handler: ... }); // onEvent's type
 *
 * A payload can hold no function (structured clone refuses one), so a function type, or a module
 * type whose `default` is a function, can only be a handler's.
 */
export class LanePool<P = unknown, R = unknown, E = unknown> extends EventEmitter<LanePoolEvents> {
  readonly #options: ResolvedOptions;
  readonly #shards: Shard[];
  /** Whole-pool drains waiting for `#pending` to reach 0. */
  readonly #drainWaiters = new Set<() => void>();
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
    super();
    this.#options = resolvePoolOptions(options);
    const owner = {
      pool: this,
      settled: (task: PendingTask): void => this.#onSettled(task),
      stateChanged: (event: ShardStateEvent): void => this.#emitState(event),
    };
    this.#shards = Array.from({ length: this.#options.shards }, (_, id) => new Shard(id, this.#options, owner));
    this.#watchdog = this.#options.stallTimeoutMs > 0 ? new Watchdog(this.#shards, this.#options.stallTimeoutMs) : undefined;
  }

  /** The number of shards (worker threads). */
  get shards(): number {
    return this.#options.shards;
  }

  /**
   * Runs `payload` through the handler on the key's shard, after every earlier task of the same key.
   * Rejects with the handler's error, `LaneTimeoutError`, `LaneCancelledError`, `QueueFullError`,
   * `PoolClosedError`, or a TypeError/RangeError for a bad key or option. `onEvent` receives the
   * events the handler emits (`ctx.emit`), all before the returned promise settles.
   */
  run(key: string, payload: PoolPayload<P>, options?: RunOptions<PoolEvent<P, E>>): Promise<PoolResult<P, R>> {
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
    const { signal } = run;
    if (signal?.aborted) return Promise.reject(new LaneCancelledError({ key, reason: abortReason(signal), cause: signal.reason }));
    const shard = this.#shards[shardFor(key, this.#shards.length)]!;
    const refusal = this.#refusal(shard, key, run.control, bytes);
    if (refusal !== undefined) return Promise.reject(refusal);
    const id = ++this.#nextId;
    // Zero cost unobserved: one property read. Observed, the task's promise is traced as a whole.
    if (!taskChannel.hasSubscribers) return this.#submit(shard, id, key, payload, bytes, run, undefined) as Promise<PoolResult<P, R>>;
    const trace: TaskContext = { pool: this, key, shard: shard.id, id, attempt: run.attempt, priority: run.control ? 'control' : 'normal' };
    return taskChannel.tracePromise(() => this.#submit(shard, id, key, payload, bytes, run, trace), trace) as Promise<PoolResult<P, R>>;
  }

  #submit(shard: Shard, id: number, key: string, payload: unknown, bytes: number, run: ResolvedRun, trace: TaskContext | undefined): Promise<unknown> {
    const { signal, control, timeoutMs, onStart, onEvent, retry, attempt, transfer } = run;
    return new Promise((resolve, reject) => {
      const task: PendingTask = {
        id, key, control, bytes, retry, attempts: 0, started: false, message: { t: 'run', id, key, payload, timeoutMs, control, attempt },
        resolve, reject, onStart, onEvent, detachSignal: undefined, transfer, acceptedAt: performance.now(), startedAt: 0, trace,
      };
      if (signal !== undefined) {
        const onAbort = (): void => shard.cancelTask(task, abortReason(signal), signal.reason);
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
   * With `key`, waits for that key alone. With `timeoutMs`, rejects with `DrainTimeoutError` listing
   * the busy keys; with `signal`, rejects with `signal.reason` when it aborts. The tasks are not touched.
   */
  drain(options?: DrainOptions): Promise<void> {
    let drain;
    try {
      drain = checkDrainOptions(options);
    } catch (error) {
      return Promise.reject(error);
    }
    const { timeoutMs, signal, key } = drain;
    if (signal?.aborted) return Promise.reject(signal.reason);
    let waiting: Promise<void>;
    if (key === undefined) {
      if (this.#pending === 0) return Promise.resolve();
      waiting = waitFor((done) => {
        this.#drainWaiters.add(done);
        return () => this.#drainWaiters.delete(done);
      }, { timeoutMs, signal, timeout: () => new DrainTimeoutError({ keys: this.busyKeys(), timeoutMs: timeoutMs! }) });
    } else {
      const shard = this.#shards[shardFor(key, this.#shards.length)]!;
      if (!shard.busy(key)) return Promise.resolve();
      waiting = waitFor((done) => shard.onIdle(key, done), { timeoutMs, signal, timeout: () => new DrainTimeoutError({ keys: [key], timeoutMs: timeoutMs! }) });
    }
    return drainObserved() ? this.#observeDrain(waiting, key) : waiting;
  }

  #observeDrain(waiting: Promise<void>, key: string | undefined): Promise<void> {
    const since = performance.now();
    const publish = (outcome: 'drained' | 'timedOut' | 'aborted'): void =>
      publishDrain({ pool: this, key, outcome, durationMs: performance.now() - since });
    return waiting.then(() => publish('drained'), (error: unknown) => {
      publish(error instanceof DrainTimeoutError ? 'timedOut' : 'aborted');
      throw error;
    });
  }

  /** Keys that have queued or running tasks. */
  busyKeys(): string[] {
    return this.#shards.flatMap((shard) => shard.busyKeys());
  }

  /**
   * Resolves once every worker has loaded the handler; rejects with `HandlerLoadError` if one cannot,
   * or with `signal.reason` if the signal aborts first.
   */
  ready(options?: ReadyOptions): Promise<void> {
    let signal;
    try {
      signal = checkReadyOptions(options);
    } catch (error) {
      return Promise.reject(error);
    }
    return unlessAborted(Promise.all(this.#shards.map((shard) => shard.ready())).then(() => undefined), signal);
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

  /**
   * A snapshot of the pool's counters, timings and utilization. Cheap: read from the main thread's
   * own bookkeeping and fixed-size histograms (the pool-wide ones merged from the shards' at this
   * call), without asking the workers.
   */
  stats(): PoolStats {
    const shards = this.#shards.map((shard) => shard.stats());
    const totals = Object.fromEntries(COUNTERS.map((field) => [field, shards.reduce((sum, s) => sum + s[field], 0)]));
    return {
      shards, ...(totals as Record<Counter, number>),
      wait: merged(this.#shards.map((shard) => shard.timings), 'wait'),
      run: merged(this.#shards.map((shard) => shard.timings), 'run'),
      utilization: shards.reduce((sum, s) => sum + s.utilization, 0) / shards.length,
    };
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
    let close;
    try {
      close = checkCloseOptions(options);
    } catch (error) {
      return Promise.reject(error);
    }
    this.#closed = true;
    if (close.force) for (const shard of this.#shards) shard.cancelAll('pool closed');
    this.#closing ??= this.drain().then(async () => {
      this.#watchdog?.stop();
      await Promise.all(this.#shards.map((shard) => shard.close()));
    });
    return unlessAborted(this.#closing, close.signal);
  }

  /** `await using pool = new LanePool(...)`: closes the pool, waiting for its tasks, at the end of the scope. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * `using pool = ...` (without await): starts closing and returns, as piscina does; the scope cannot
   * wait, so the tasks still finish and the workers stop afterwards. Prefer `await using`.
   */
  [Symbol.dispose](): void {
    void this.close();
  }

  #onSettled(task: PendingTask): void {
    this.#pending--;
    if (task.control) this.#control--;
    this.#bytes -= task.bytes;
    if (this.#pending > 0 || this.#drainWaiters.size === 0) return;
    // Each callback unsubscribes itself from the set: iterate over a copy.
    for (const done of [...this.#drainWaiters]) done();
  }

  /** A listener's throw must not reach the worker state machine that reported the change. */
  #emitState(event: ShardStateEvent): void {
    if (this.listenerCount('shardState') === 0) return;
    try {
      this.emit('shardState', event);
    } catch (error) {
      process.emitWarning(`lanepool: a shardState listener threw: ${messageOf(error)}`);
    }
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
