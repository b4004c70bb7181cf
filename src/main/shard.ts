/**
 * The main thread's side of one shard: the table of tasks sent to its worker, and their settlement.
 * The worker's life (piscina, attach, recovery) is ShardWorker's.
 *
 * Invariants:
 * - This object is the only place a task sent to this shard is settled, and it settles each task
 *   once: whatever arrives for an id no longer in `#tasks` is ignored.
 * - `#keys` holds an entry for a key exactly while the key has unsettled tasks here; its `bytes` and
 *   `normal` are the sums over those tasks, raised in `submit` and lowered only in `#settle`, so every
 *   settlement path (ok, error, timeout, cancel, restart, load failure, close) releases them.
 * - `#tasks` is in submission order, which is also per-key order. When a worker dies, the tasks it
 *   had not started (the "started" rule: protocol.ts's header) are sent again to its replacement in that order, before anything submitted
 *   while it was recovering (held in `#held`), so per-key order survives a restart.
 */
import type { TransferListItem } from 'node:worker_threads';
import {
  DataCloneError, LaneCancelledError, ShardRestartedError, fromWire, messageOf, type RestartReason,
} from '../shared/errors.ts';
import type { FromWorker, RunMessage, ToWorker, WorkerReport } from '../shared/protocol.ts';
import { publishBackoff, publishReplay, publishRestart, publishStall, replayObserved, type ShardReplayEvent, type TaskOutcome } from './channels.ts';
import type { ResolvedOptions } from './options.ts';
import type { PendingTask } from './pending-task.ts';
import { ShardWorker, type WorkerState } from './shard-worker.ts';
import { Timings, Utilization, summarize, type Timing } from './timing.ts';

export type ShardState = WorkerState;

/** A shard's worker moved from one state to another (`LanePool`'s `shardState` event). */
export interface ShardStateEvent {
  shard: number;
  from: ShardState;
  to: ShardState;
}

/** What a shard needs from its pool. */
export interface ShardOwner {
  /** Named in the events the shard publishes. */
  readonly pool: object;
  /** Every settlement, once per task. */
  settled(task: PendingTask): void;
  stateChanged(event: ShardStateEvent): void;
}

export interface ShardStats {
  id: number;
  /** Keys with unsettled tasks on this shard. */
  lanes: number;
  /** Tasks sent but not yet started. */
  queued: number;
  /** Payload bytes held by unsettled tasks (queued or running), as the byte bounds count them. */
  queuedBytes: number;
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
  /** Times this shard's worker was replaced, for any reason. */
  restarts: number;
  /** Tasks that had not started when their worker died, sent again to its replacement. */
  replayed: number;
  /**
   * Events handlers emitted (`ctx.emit`) that reached this thread or were dropped in the worker:
   * `eventsDelivered` + `eventsDropped` + those of tasks run without `onEvent`. Events in flight when
   * a worker dies are lost with it, uncounted.
   */
  events: number;
  /** Events handed to their task's `onEvent` (a callback that threw included). */
  eventsDelivered: number;
  /** Events emitted after their task had settled, dropped in the worker or on arrival here. */
  eventsDropped: number;
  /** `restarts` by reason. */
  restartsByReason: Record<RestartReason, number>;
  state: ShardState;
  /** From acceptance to the handler's start, in ms (see timing.ts). */
  wait: Timing;
  /** From the handler's start to settlement, in ms. */
  run: Timing;
  /** Share of the shard's life (0 to 1) with at least one task running. */
  utilization: number;
}

/** How a task settled: counted in stats() and named as the outcome on the `lanepool:task` channel. */
type Kind = TaskOutcome;

/** One key's unsettled tasks on this shard. */
interface KeyEntry {
  tasks: Set<PendingTask>;
  /** Of `tasks`, those that are not control tasks: what `maxQueuedPerKey` bounds. */
  normal: number;
  /** Sum of `tasks`' bytes: what `maxQueuedBytesPerKey` bounds. */
  bytes: number;
}

export class Shard {
  readonly id: number;
  /** The pool this shard belongs to, named in the events it publishes. */
  readonly #pool: object;
  readonly #owner: ShardOwner;
  readonly #worker: ShardWorker;
  /** Wait and run histograms; the pool merges the shards' for its own figures. */
  readonly timings = new Timings();
  readonly #utilization = new Utilization();
  /** Per-key drains waiting for their key's entry in `#keys` to go. */
  readonly #idleWaiters = new Map<string, Set<() => void>>();
  readonly #tasks = new Map<number, PendingTask>();
  readonly #keys = new Map<string, KeyEntry>();
  #bytes = 0;
  /** While the worker is recovering: messages to send once the replays are out. */
  #held: ToWorker[] | undefined;
  #failure: Error | undefined;
  #readyWaiters: { resolve: () => void; reject: (error: Error) => void }[] = [];
  readonly #probes = new Map<number, (stats: WorkerReport | undefined) => void>();
  #nextProbe = 0;
  #running = 0;
  readonly #counts: Record<Kind, number> = { completed: 0, failed: 0, timedOut: 0, cancelled: 0 };
  #abandoned = 0;
  #replayed = 0;
  #events = 0;
  #eventsDelivered = 0;
  #eventsDropped = 0;

  constructor(id: number, options: ResolvedOptions, owner: ShardOwner) {
    this.id = id;
    this.#pool = owner.pool;
    this.#owner = owner;
    this.#worker = new ShardWorker(id, options, {
      ready: () => {
        for (const waiter of this.#readyWaiters.splice(0)) waiter.resolve();
      },
      message: (batch) => this.#receive(batch),
      down: () => this.#down(),
      lost: (reason, detail, started) => this.#lost(reason, detail, started),
      fatal: (error) => this.#fail(error),
      state: (from) => this.#owner.stateChanged({ shard: this.id, from, to: this.#worker.state }),
      backoff: (delayMs, streak) => publishBackoff(() => ({ pool: this.#pool, shard: this.id, delayMs, streak })),
    }, (message, error) => this.#unsendable(message, error));
  }

  /** Set once the handler cannot be loaded; every task for this shard then fails with it. */
  get failure(): Error | undefined {
    return this.#failure;
  }

  /** Unsettled tasks of `key` on this shard, not counting control tasks. */
  load(key: string): number {
    return this.#keys.get(key)?.normal ?? 0;
  }

  /** Payload bytes held by unsettled tasks of `key` on this shard. */
  bytes(key: string): number {
    return this.#keys.get(key)?.bytes ?? 0;
  }

  /** Sends a task to the worker. The caller has already checked limits and the shard's failure. */
  submit(task: PendingTask): void {
    this.#tasks.set(task.id, task);
    let entry = this.#keys.get(task.key);
    if (entry === undefined) this.#keys.set(task.key, (entry = { tasks: new Set(), normal: 0, bytes: 0 }));
    entry.tasks.add(task);
    if (!task.control) entry.normal++;
    entry.bytes += task.bytes;
    this.#bytes += task.bytes;
    this.#send(task.message, task.transfer);
  }

  /** True while `key` has an unsettled task here, control tasks included. */
  busy(key: string): boolean {
    return this.#keys.has(key);
  }

  /**
   * Calls `done` once `key` has no unsettled task here (tasks submitted meanwhile included: the key's
   * entry stays while any is unsettled). The caller checks `busy(key)` first. Returns an unsubscribe.
   */
  onIdle(key: string, done: () => void): () => void {
    let waiters = this.#idleWaiters.get(key);
    if (waiters === undefined) this.#idleWaiters.set(key, (waiters = new Set()));
    waiters.add(done);
    return () => {
      waiters.delete(done);
      if (waiters.size === 0 && this.#idleWaiters.get(key) === waiters) this.#idleWaiters.delete(key);
    };
  }

  /** Settles every unsettled task of `key` as cancelled and tells the worker to release them. */
  cancelKey(key: string, reason: string): number {
    const entry = this.#keys.get(key);
    if (entry === undefined) return 0;
    const tasks = [...entry.tasks];
    for (const task of tasks) this.#settle(task, 'cancelled', new LaneCancelledError({ key, reason }));
    this.#send({ t: 'cancel', key, reason });
    return tasks.length;
  }

  /** Cancels one task, if it is still unsettled; `cause` is the caller's `signal.reason`. */
  cancelTask(task: PendingTask, reason: string, cause: unknown): void {
    if (!this.#tasks.has(task.id)) return;
    this.#settle(task, 'cancelled', new LaneCancelledError({ key: task.key, reason, cause }));
    this.#send({ t: 'abort', id: task.id, reason });
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
    if (this.#worker.state === 'ready') return Promise.resolve();
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => this.#readyWaiters.push({ resolve, reject }));
  }

  /** The worker's heartbeat counter while it is ready (for the watchdog). */
  heartbeat(): number | undefined {
    return this.#worker.heartbeat();
  }

  /** True while the worker is posting a batch (the watchdog excuses that, for a while). */
  posting(): boolean {
    return this.#worker.posting();
  }

  /** Declares the worker stalled: it is stopped and replaced, and its tasks recovered. */
  stall(detail: string): void {
    publishStall(() => ({ pool: this.#pool, shard: this.id, detail }));
    this.#worker.stall(detail);
  }

  /**
   * The worker's own report (lanes, heap, handler gauges), read after everything sent before this
   * call; undefined if the shard has no worker that can answer (failed or closed), or if it has not
   * answered within `timeoutMs` (a frozen worker). A late answer is then ignored.
   */
  inspect(timeoutMs?: number): Promise<WorkerReport | undefined> {
    const state = this.#worker.state;
    if (state === 'failed' || state === 'closed') return Promise.resolve(undefined);
    const id = ++this.#nextProbe;
    return new Promise((resolve) => {
      const timer = timeoutMs === undefined ? undefined : setTimeout(() => {
        this.#probes.delete(id);
        resolve(undefined);
      }, timeoutMs);
      this.#probes.set(id, (report) => {
        clearTimeout(timer);
        resolve(report);
      });
      this.#send({ t: 'probe', id });
    });
  }

  stats(): ShardStats {
    const restartsByReason = { ...this.#worker.restarts };
    return {
      id: this.id,
      lanes: this.#keys.size,
      queued: this.#tasks.size - this.#running,
      queuedBytes: this.#bytes,
      running: this.#running,
      ...this.#counts,
      abandoned: this.#abandoned,
      restarts: restartsByReason.stall + restartsByReason.crash + restartsByReason.oom,
      replayed: this.#replayed,
      events: this.#events,
      eventsDelivered: this.#eventsDelivered,
      eventsDropped: this.#eventsDropped,
      restartsByReason,
      state: this.#worker.state,
      wait: summarize(this.timings.wait),
      run: summarize(this.timings.run),
      utilization: this.#utilization.read(this.#running > 0),
    };
  }

  /** Stops the worker. The pool calls this only once no task is unsettled. */
  async close(): Promise<void> {
    if (this.#worker.state === 'closed') return;
    await this.#worker.close();
    this.#answerProbes();
  }

  /** A held run message leaves later with its task's transfer list, looked up then (see `#lost`). */
  #send(message: ToWorker, transfer?: readonly TransferListItem[]): void {
    if (this.#held !== undefined) this.#held.push(message);
    else this.#worker.send(message, transfer);
  }

  #receive(batch: FromWorker[]): void {
    // One clock read per batch: every message in it arrived at the same moment.
    const now = performance.now();
    for (const message of batch) {
      switch (message.t) {
        case 'started': {
          const task = this.#tasks.get(message.id);
          if (task !== undefined && !task.started) {
            task.started = true;
            task.startedAt = now;
            this.timings.recordWait(now - task.acceptedAt);
            if (this.#running++ === 0) this.#utilization.busy(now);
            if (task.onStart !== undefined) notifyStart(task.onStart);
          }
          break;
        }
        case 'event': {
          // The event rule (protocol.ts's header): a task's events come before its `ok` or `err` in
          // this same loop, so a task still in the table has not settled, and onEvent runs first.
          const { events } = message;
          this.#events += events.length;
          const task = this.#tasks.get(message.id);
          if (task === undefined) this.#eventsDropped += events.length; // settled here first (cancelled, restarted)
          else if (task.onEvent !== undefined) this.#deliver(task, events);
          break;
        }
        case 'dropped':
          this.#events += message.count;
          this.#eventsDropped += message.count;
          break;
        case 'ok': {
          const task = this.#tasks.get(message.id);
          if (task !== undefined) this.#settle(task, 'completed', undefined, message.value, now);
          break;
        }
        case 'err': {
          const task = this.#tasks.get(message.id);
          if (task === undefined) break;
          const error = fromWire(message.error, message.error.own ? { key: task.key } : undefined);
          this.#settle(task, message.error.own && message.error.code === 'ERR_LANE_TIMEOUT' ? 'timedOut' : 'failed', error, undefined, now);
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
          break; // ShardWorker's: it has already moved to `ready` and told us (events.ready).
      }
    }
  }

  /**
   * Hands a task's events to its onEvent, one by one. The callback may settle the task itself
   * (`cancel(key)` from inside it): the events after that are dropped, as any arriving late are.
   */
  #deliver(task: PendingTask, events: unknown[]): void {
    const onEvent = task.onEvent!;
    for (let i = 0; i < events.length; i++) {
      if (i > 0 && !this.#tasks.has(task.id)) {
        this.#eventsDropped += events.length - i;
        return;
      }
      this.#eventsDelivered++;
      notifyEvent(onEvent, events[i]);
    }
  }

  #settle(task: PendingTask, kind: Kind, error?: Error, value?: unknown, at?: number): void {
    this.#tasks.delete(task.id);
    let idle = false;
    const entry = this.#keys.get(task.key);
    if (entry !== undefined && entry.tasks.delete(task)) {
      if (!task.control) entry.normal--;
      entry.bytes -= task.bytes;
      this.#bytes -= task.bytes;
      if (entry.tasks.size === 0) idle = this.#keys.delete(task.key);
    }
    if (task.started) {
      const now = at ?? performance.now();
      this.timings.recordRun(now - task.startedAt);
      if (--this.#running === 0) this.#utilization.idle(now);
    }
    task.detachSignal?.();
    this.#counts[kind]++;
    if (kind === 'timedOut') this.#counts.failed++;
    if (task.trace !== undefined) task.trace.outcome = kind;
    if (error === undefined) task.resolve(value);
    else task.reject(error);
    this.#owner.settled(task);
    if (idle) this.#wakeIdle(task.key);
  }

  /** The key's last unsettled task here has settled: per-key drains of it resolve. */
  #wakeIdle(key: string): void {
    const waiters = this.#idleWaiters.get(key);
    if (waiters === undefined) return;
    this.#idleWaiters.delete(key);
    for (const done of waiters) done();
  }

  #unsendable(message: ToWorker, error: unknown): void {
    if (message.t !== 'run') return;
    const task = this.#tasks.get(message.id);
    if (task === undefined) return;
    // The refusal may be the payload's own thrown value (a getter runs during the clone): read it safely.
    this.#settle(task, 'failed', new DataCloneError({ key: task.key, what: 'payload', detail: messageOf(error) }));
  }

  /** The worker is going: hold new messages until we know what it had started. */
  #down(): void {
    this.#held ??= [];
    this.#abandoned = 0;
    this.#answerProbes();
  }

  /**
   * The old worker has exited. Tasks it had started fail with ShardRestartedError, unless they asked
   * for `retry: 'idempotent'` and have not been retried yet; the rest are sent again, in order,
   * ahead of whatever was submitted meanwhile.
   */
  #lost(reason: RestartReason, detail: string, started: Set<number>): void {
    const held = this.#held ?? [];
    this.#held = undefined;
    const heldRuns = new Set(held.filter((m): m is RunMessage => m.t === 'run').map((m) => m.id));
    let replayed = 0;
    const observed: ShardReplayEvent['tasks'] | undefined = replayObserved() ? [] : undefined;
    for (const task of [...this.#tasks.values()]) {
      if (heldRuns.has(task.id)) continue;
      const hadStarted = task.started || started.has(task.id);
      // A started task runs again only if it asked to, and only once.
      if (hadStarted && !(task.retry && task.attempts === 0)) {
        this.#settle(task, 'failed', new ShardRestartedError({ shard: this.id, key: task.key, reason, detail }));
        continue;
      }
      // Its transfer list went to the old worker: sent again, the payload would arrive detached (empty).
      if (task.transfer !== undefined && task.transfer.length > 0) {
        this.#settle(task, 'failed', new ShardRestartedError({ shard: this.id, key: task.key, reason, detail: `${detail}; its transferred payload left with the old worker` }));
        continue;
      }
      if (hadStarted) {
        task.attempts++;
        task.message.attempt++;
        if (task.trace !== undefined) task.trace.attempt = task.message.attempt;
      }
      if (task.started) {
        task.started = false;
        if (--this.#running === 0) this.#utilization.idle(performance.now());
      }
      replayed++;
      this.#worker.send(task.message);
      observed?.push({ id: task.id, key: task.key, attempt: task.message.attempt });
    }
    this.#replayed += replayed;
    for (const message of held) this.#worker.send(message, message.t === 'run' ? this.#tasks.get(message.id)?.transfer : undefined);
    publishRestart(() => ({ pool: this.#pool, shard: this.id, reason, detail, replayed }));
    if (observed !== undefined && observed.length > 0) publishReplay(() => ({ pool: this.#pool, shard: this.id, reason, tasks: observed }));
  }

  /** The shard can never run a task: fail everything now and later. */
  #fail(error: Error): void {
    this.#failure = error;
    this.#held = undefined;
    this.#answerProbes();
    for (const task of [...this.#tasks.values()]) this.#settle(task, 'failed', error);
    for (const waiter of this.#readyWaiters.splice(0)) waiter.reject(error);
  }

  /** Probes that can no longer be answered by the worker they were sent to resolve as undefined. */
  #answerProbes(): void {
    for (const answer of this.#probes.values()) answer(undefined);
    this.#probes.clear();
  }
}

/** A throwing onStart callback must not break the batch loop, which would strand the batch's other tasks. */
function notifyStart(onStart: () => void): void {
  try {
    onStart();
  } catch (error) {
    process.emitWarning(`lanepool: an onStart callback threw: ${messageOf(error)}`);
  }
}

/** As onStart: a throwing onEvent is reported and changes nothing (its task and later events go on). */
function notifyEvent(onEvent: (event: unknown) => void, event: unknown): void {
  try {
    onEvent(event);
  } catch (error) {
    process.emitWarning(`lanepool: an onEvent callback threw: ${messageOf(error)}`);
  }
}
