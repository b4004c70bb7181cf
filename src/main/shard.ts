/**
 * The main thread's side of one shard: the piscina instance that keeps its single worker alive, the
 * channel to that worker, and the table of tasks sent to it.
 *
 * Invariant: this object is the only place a task sent to this shard is settled, and it settles each
 * task once, the first time any of these happens: the worker reports ok/err, the caller cancels,
 * or the worker dies. Whatever arrives for an id that is no longer in `#tasks` is ignored.
 */
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { Piscina } from 'piscina';
import {
  DataCloneError, HandlerLoadError, LaneCancelledError, ShardRestartedError, fromWire,
  type RestartReason,
} from '../shared/errors.ts';
import { Outbox } from '../shared/outbox.ts';
import type { AttachRequest, AttachResult, FromWorker, ToWorker, WorkerLaneStats } from '../shared/protocol.ts';
import type { ResolvedOptions } from './options.ts';
import type { PendingTask } from './pending-task.ts';

const ENTRY = new URL('../worker/entry.mjs', import.meta.url).href;
/** A worker that stayed up this long before dying resets the crash-loop backoff. */
const HEALTHY_UPTIME_MS = 5_000;
const MAX_BACKOFF_MS = 5_000;
/** Workers that die before ever loading the handler this many times in a row mark the shard failed. */
const MAX_BOOT_FAILURES = 3;
/** How long close() waits for the worker to finish its attach task before terminating it. */
const CLOSE_GRACE_MS = 1_000;

export type ShardState = 'starting' | 'ready' | 'backoff' | 'failed' | 'closed';

export interface ShardStats {
  id: number;
  /** Keys with unsettled tasks on this shard. */
  lanes: number;
  /** Tasks sent but not yet started. */
  queued: number;
  /** Tasks whose handler has been called and that are not settled. */
  running: number;
  /** Tasks that resolved. */
  completed: number;
  /** Tasks that rejected with the handler's error, a timeout, or a restart (not cancellations). */
  failed: number;
  /** Of `failed`, those that hit their deadline. */
  timedOut: number;
  /** Tasks settled with `LaneCancelledError`. */
  cancelled: number;
  /** Released tasks (timed out or cancelled) whose handler promise has not settled yet. */
  abandoned: number;
  /** Times this shard's worker was replaced. */
  restarts: number;
  state: ShardState;
}

export class Shard {
  readonly id: number;
  readonly #options: ResolvedOptions;
  readonly #onSettled: () => void;
  readonly #piscina: Piscina<AttachRequest, AttachResult>;
  readonly #tasks = new Map<number, PendingTask>();
  readonly #keys = new Map<string, Set<PendingTask>>();
  #port!: MessagePort;
  #outbox!: Outbox<ToWorker>;
  #state: ShardState = 'starting';
  #failure: Error | undefined;
  #attach: Promise<unknown> | undefined;
  #backoffTimer: NodeJS.Timeout | undefined;
  #readyAt = 0;
  #crashStreak = 0;
  #bootFailures = 0;
  #readyWaiters: { resolve: () => void; reject: (error: Error) => void }[] = [];
  readonly #probes = new Map<number, (stats: WorkerLaneStats | undefined) => void>();
  #nextProbe = 0;
  #running = 0;
  #completed = 0;
  #failed = 0;
  #timedOut = 0;
  #cancelled = 0;
  #abandoned = 0;
  #restarts = 0;

  constructor(id: number, options: ResolvedOptions, onSettled: () => void) {
    this.id = id;
    this.#options = options;
    this.#onSettled = onSettled;
    this.#piscina = new Piscina({
      filename: ENTRY,
      name: 'default',
      minThreads: 1,
      maxThreads: 1,
      concurrentTasksPerWorker: 1,
      // Workers must keep running timers and I/O between messages: no Atomics.wait when idle.
      atomics: 'disabled',
      idleTimeout: 2 ** 31 - 1,
      ...(options.resourceLimits ? { resourceLimits: options.resourceLimits } : {}),
    });
    // A worker that dies while no attach task runs (during backoff) is reported here, not thrown.
    this.#piscina.on('error', () => {});
    this.#openChannel();
    this.#startAttach();
  }

  /** Set once the handler cannot be loaded; every task for this shard then fails with it. */
  get failure(): Error | undefined {
    return this.#failure;
  }

  /** Unsettled tasks of `key` on this shard. */
  load(key: string): number {
    return this.#keys.get(key)?.size ?? 0;
  }

  /** Sends a task to the worker. The caller has already checked limits and the shard's failure. */
  submit(task: PendingTask, payload: unknown, timeoutMs: number): void {
    this.#tasks.set(task.id, task);
    let set = this.#keys.get(task.key);
    if (set === undefined) this.#keys.set(task.key, (set = new Set()));
    set.add(task);
    this.#outbox.push({ t: 'run', id: task.id, key: task.key, payload, timeoutMs, control: task.control });
  }

  /** Settles every unsettled task of `key` as cancelled and tells the worker to release them. */
  cancelKey(key: string, reason: string): number {
    const set = this.#keys.get(key);
    if (set === undefined) return 0;
    const tasks = [...set];
    for (const task of tasks) this.#settle(task, 'cancelled', new LaneCancelledError({ key, reason }));
    this.#outbox.push({ t: 'cancel', key, reason });
    return tasks.length;
  }

  /** Cancels one task, if it is still unsettled. */
  cancelTask(task: PendingTask, reason: string): void {
    if (!this.#tasks.has(task.id)) return;
    this.#settle(task, 'cancelled', new LaneCancelledError({ key: task.key, reason }));
    this.#outbox.push({ t: 'abort', id: task.id, reason });
  }

  /** Cancels every unsettled task on this shard. */
  cancelAll(reason: string): number {
    let count = 0;
    for (const key of [...this.#keys.keys()]) count += this.cancelKey(key, reason);
    return count;
  }

  busyKeys(): string[] {
    return [...this.#keys.keys()];
  }

  /** Resolves once the worker has loaded the handler; rejects with `HandlerLoadError` if it cannot. */
  ready(): Promise<void> {
    if (this.#state === 'ready') return Promise.resolve();
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => this.#readyWaiters.push({ resolve, reject }));
  }

  /**
   * The worker's own lane table, read after everything sent before this call; undefined if the
   * shard has no live worker (failed, closed, or restarting).
   */
  inspect(): Promise<WorkerLaneStats | undefined> {
    if (this.#state === 'failed' || this.#state === 'closed') return Promise.resolve(undefined);
    const id = ++this.#nextProbe;
    return new Promise((resolve) => {
      this.#probes.set(id, resolve);
      this.#outbox.push({ t: 'probe', id });
    });
  }

  stats(): ShardStats {
    return {
      id: this.id,
      lanes: this.#keys.size,
      queued: this.#tasks.size - this.#running,
      running: this.#running,
      completed: this.#completed,
      failed: this.#failed,
      timedOut: this.#timedOut,
      cancelled: this.#cancelled,
      abandoned: this.#abandoned,
      restarts: this.#restarts,
      state: this.#state,
    };
  }

  /** Stops the worker. The pool calls this only once no task is unsettled. */
  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    const wasAttached = this.#state === 'ready' || this.#state === 'starting';
    this.#state = 'closed';
    clearTimeout(this.#backoffTimer);
    if (wasAttached && this.#attach) {
      this.#outbox.push({ t: 'close' });
      this.#outbox.flush();
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise((resolve) => (timer = setTimeout(resolve, CLOSE_GRACE_MS)));
      await Promise.race([this.#attach, grace]);
      clearTimeout(timer);
    }
    this.#port.close();
    this.#answerProbes();
    await this.#piscina.destroy();
  }

  /** Probes that can no longer be answered by the worker they were sent to resolve as undefined. */
  #answerProbes(): void {
    for (const answer of this.#probes.values()) answer(undefined);
    this.#probes.clear();
  }

  #openChannel(): void {
    const { port1, port2 } = new MessageChannel();
    this.#port = port1;
    this.#outbox = new Outbox<ToWorker>(port1, (message, error) => this.#unsendable(message, error));
    port1.on('message', (batch: FromWorker[]) => this.#receive(batch));
    this.#pendingPort = port2;
  }

  /** The worker's end of the current channel, until an attach task takes it. */
  #pendingPort: MessagePort | undefined;

  #startAttach(): void {
    const port = this.#pendingPort!;
    this.#pendingPort = undefined;
    this.#state = 'starting';
    const request: AttachRequest = { shard: this.id, port, handler: this.#options.handlerUrl, handlerData: this.#options.handlerData };
    const attach = this.#piscina.run(request, { transferList: [port] });
    this.#attach = attach;
    attach.then(
      (result) => {
        if (this.#state === 'closed' || this.#state === 'failed') return;
        if ('fatal' in result) this.#fail(fromWire(result.fatal));
        // Otherwise it ended without being told to close: treat it like a death.
        else this.#workerLost(new Error('worker left its attach task'));
      },
      (error: unknown) => {
        if (this.#state !== 'closed' && this.#state !== 'failed') this.#workerLost(error);
      },
    );
  }

  #receive(batch: FromWorker[]): void {
    for (const message of batch) {
      switch (message.t) {
        case 'started': {
          const task = this.#tasks.get(message.id);
          if (task !== undefined && !task.started) {
            task.started = true;
            this.#running++;
            if (task.onStart !== undefined) notifyStart(task.onStart);
          }
          break;
        }
        case 'ok': {
          const task = this.#tasks.get(message.id);
          if (task !== undefined) this.#settle(task, 'completed', undefined, message.value);
          break;
        }
        case 'err': {
          const task = this.#tasks.get(message.id);
          if (task === undefined) break;
          const error = fromWire(message.error, message.error.own ? { key: task.key } : undefined);
          this.#settle(task, message.error.own && message.error.code === 'ERR_LANE_TIMEOUT' ? 'timedOut' : 'failed', error);
          break;
        }
        case 'abandoned':
          this.#abandoned = message.count;
          break;
        case 'probe':
          this.#probes.get(message.id)?.(message.stats);
          this.#probes.delete(message.id);
          break;
        case 'ready':
          this.#state = 'ready';
          this.#readyAt = Date.now();
          this.#bootFailures = 0;
          for (const waiter of this.#readyWaiters.splice(0)) waiter.resolve();
          break;
      }
    }
  }

  #settle(task: PendingTask, kind: 'completed' | 'failed' | 'timedOut' | 'cancelled', error?: Error, value?: unknown): void {
    this.#tasks.delete(task.id);
    const set = this.#keys.get(task.key);
    if (set !== undefined) {
      set.delete(task);
      if (set.size === 0) this.#keys.delete(task.key);
    }
    if (task.started) this.#running--;
    task.detachSignal?.();
    if (kind === 'completed') this.#completed++;
    else if (kind === 'cancelled') this.#cancelled++;
    else {
      this.#failed++;
      if (kind === 'timedOut') this.#timedOut++;
    }
    if (error === undefined) task.resolve(value);
    else task.reject(error);
    this.#onSettled();
  }

  #unsendable(message: ToWorker, error: unknown): void {
    if (message.t !== 'run') return;
    const task = this.#tasks.get(message.id);
    if (task === undefined) return;
    const detail = error instanceof Error ? error.message : String(error);
    this.#settle(task, 'failed', new DataCloneError({ key: task.key, what: 'payload', detail }));
  }

  /** The worker died or left: fail what it held, then attach a fresh worker after a backoff. */
  #workerLost(cause: unknown): void {
    const wasReady = this.#state === 'ready';
    const reason: RestartReason = (cause as { code?: unknown })?.code === 'ERR_WORKER_OUT_OF_MEMORY' ? 'oom' : 'crash';
    const detail = cause instanceof Error ? cause.message : String(cause);
    this.#restarts++;
    this.#abandoned = 0;
    this.#answerProbes();
    this.#outbox.discard();
    this.#port.close();
    for (const task of [...this.#tasks.values()]) {
      this.#settle(task, 'failed', new ShardRestartedError({ shard: this.id, key: task.key, reason, detail }));
    }
    if (!wasReady && ++this.#bootFailures >= MAX_BOOT_FAILURES) {
      this.#fail(new HandlerLoadError({ handler: this.#options.handlerUrl, detail: `the worker died ${MAX_BOOT_FAILURES} times before loading it: ${detail}` }));
      return;
    }
    if (Date.now() - this.#readyAt > HEALTHY_UPTIME_MS) this.#crashStreak = 0;
    const delay = this.#crashStreak === 0 ? 0 : Math.min(MAX_BACKOFF_MS, 50 * 2 ** this.#crashStreak);
    this.#crashStreak++;
    this.#openChannel();
    this.#state = 'backoff';
    this.#backoffTimer = setTimeout(() => {
      if (this.#state === 'backoff') this.#startAttach();
    }, delay);
  }

  /** The shard can never run a task: fail everything now and later. */
  #fail(error: Error): void {
    this.#state = 'failed';
    this.#failure = error;
    this.#answerProbes();
    for (const task of [...this.#tasks.values()]) this.#settle(task, 'failed', error);
    for (const waiter of this.#readyWaiters.splice(0)) waiter.reject(error);
  }
}

/** A throwing onStart callback must not break the batch loop, which would strand the batch's other tasks. */
function notifyStart(onStart: () => void): void {
  try {
    onStart();
  } catch (error) {
    process.emitWarning(`lanepool: an onStart callback threw: ${error instanceof Error ? error.message : String(error)}`);
  }
}
