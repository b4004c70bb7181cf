/**
 * The keyed queue: one lane per key with work, strict FIFO inside a lane, every lane independent.
 *
 *   lane "thread-7":   [ head: running ] [ control: running ]  <-  queue: t3, t4, t5
 *   lane "thread-9":   [ head: running ]                       <-  queue: (empty)
 *
 * - A normal task starts only when nothing runs in its lane; then the lane's oldest queued task starts.
 * - A control task (stop, interrupt) starts the moment it is pushed, beside whatever runs, and ahead
 *   of everything queued.
 * - A task whose deadline passes, or that is cancelled, is *released*: its signal fires, it is settled
 *   at once, and its lane moves on without waiting for the handler's promise. That promise is then
 *   *abandoned*: counted until it settles on its own, its outcome ignored.
 * - A lane exists only while it holds a running or queued task, so the map is bounded by live work.
 * - `ctx.emit` forwards an event (the `event` hook) only while its task is `running`; once the task
 *   has been settled (released, or its promise settled) the event is dropped (`eventDropped`). Since
 *   `settled` is called only after that state change, no event of a task follows its `settled`:
 *   the worker side of the event rule (protocol.ts's header).
 *
 * This class is pure: it touches no worker API, so it runs in a worker (one instance per shard, used
 * only from that worker's thread) and in-process (benchmarks and baselines) alike. It is not
 * thread-safe and needs no locks, because one thread owns it.
 */
import { LaneCancelledError, LaneTimeoutError } from '../shared/errors.ts';
import type { TransferListItem } from 'node:worker_threads';
import type { Handler, HandlerContext } from '../shared/handler.ts';
import type { WorkerLaneStats } from '../shared/protocol.ts';
import { Fifo } from './fifo.ts';

export interface LaneTask {
  id: number;
  key: string;
  payload: unknown;
  /** Deadline counted from the start; 0 means none. */
  timeoutMs: number;
  control: boolean;
  /** Which run of the task this is, for ctx.attempt. @default 1 */
  attempt?: number;
}

export type Outcome =
  | { kind: 'ok'; value: unknown; transfer?: readonly TransferListItem[] }
  | { kind: 'error'; error: unknown }
  | { kind: 'timeout'; timeoutMs: number }
  | { kind: 'cancelled'; reason: string };

export interface LaneHooks {
  /** The task's handler is about to be called. */
  started?(task: LaneTask): void;
  /** Called exactly once for every pushed task. It may push more tasks. */
  settled(task: LaneTask, outcome: Outcome): void;
  /** The number of abandoned handler promises changed. */
  abandoned?(count: number): void;
  /**
   * The running task's handler called `ctx.emit(event)`. What it throws, `ctx.emit` throws to the
   * handler (an event that cannot be sent); the task goes on either way.
   */
  event?(task: LaneTask, event: unknown): void;
  /** The handler of a task already settled called `ctx.emit`; the event goes nowhere. */
  eventDropped?(task: LaneTask): void;
}


type State = 'queued' | 'running' | 'released' | 'done';

interface Lane {
  readonly key: string;
  /** The running normal task, if any. */
  head: Entry | null;
  /** Running control tasks; allocated on first use. */
  controls: Set<Entry> | null;
  /** Waiting normal tasks. Entries dropped while queued stay here as `done` and are skipped. */
  readonly queue: Fifo<Entry>;
}

interface Entry {
  readonly task: LaneTask;
  readonly lane: Lane;
  state: State;
  timer: NodeJS.Timeout | undefined;
  /** Created on first read of `ctx.signal`, so handlers that never look at it cost nothing. */
  controller: AbortController | undefined;
  abortReason: Error | undefined;
  /** What the handler asked to move with its result (`ctx.transfer`). */
  transfer: readonly TransferListItem[] | undefined;
  /** `ctx.emit` bound to this task; made on first read. */
  emit: ((event: unknown) => void) | undefined;
}

export class Lanes {
  readonly #lanes = new Map<string, Lane>();
  readonly #byId = new Map<number, Entry>();
  readonly #handler: Handler;
  readonly #hooks: LaneHooks;
  readonly #shard: number;
  #queued = 0;
  #running = 0;
  #abandoned = 0;
  readonly #onTimeout = (entry: Entry): void => this.#timeout(entry);

  constructor(handler: Handler, hooks: LaneHooks, shard = 0) {
    this.#handler = handler;
    this.#hooks = hooks;
    this.#shard = shard;
  }

  /** Adds a task to its key's lane, starting it now if the lane is idle or the task is a control task. */
  push(task: LaneTask): void {
    let lane = this.#lanes.get(task.key);
    if (lane === undefined) {
      lane = { key: task.key, head: null, controls: null, queue: new Fifo() };
      this.#lanes.set(task.key, lane);
    }
    const entry: Entry = { task, lane, state: 'queued', timer: undefined, controller: undefined, abortReason: undefined, transfer: undefined, emit: undefined };
    this.#byId.set(task.id, entry);
    if (task.control) {
      (lane.controls ??= new Set()).add(entry);
      this.#start(entry);
      return;
    }
    // Always through the queue, so a task pushed from inside `settled` cannot overtake older ones.
    lane.queue.push(entry);
    this.#queued++;
    this.#pump(lane);
  }

  /**
   * Releases the key's running tasks (their signals fire) and drops its queued ones, settling all of
   * them as cancelled. Tasks pushed afterwards, even from inside `settled`, go to a fresh lane.
   */
  cancelKey(key: string, reason: string): number {
    const lane = this.#lanes.get(key);
    if (lane === undefined) return 0;
    this.#lanes.delete(key);
    const hit: Entry[] = [];
    if (lane.head !== null) hit.push(lane.head);
    if (lane.controls !== null) hit.push(...lane.controls);
    for (const entry of hit) this.#abandon(entry, new LaneCancelledError({ key, reason }));
    for (const entry of lane.queue.takeAll()) {
      if (entry.state !== 'queued') continue;
      entry.state = 'done';
      this.#queued--;
      this.#byId.delete(entry.task.id);
      hit.push(entry);
    }
    for (const entry of hit) this.#hooks.settled(entry.task, { kind: 'cancelled', reason });
    return hit.length;
  }

  /** Cancels one task by id: dropped if queued, released if running. False if it is not here. */
  abort(id: number, reason: string): boolean {
    const entry = this.#byId.get(id);
    if (entry === undefined) return false;
    if (entry.state === 'queued') {
      entry.state = 'done';
      this.#queued--;
      this.#byId.delete(id);
      this.#hooks.settled(entry.task, { kind: 'cancelled', reason });
      return true;
    }
    this.#abandon(entry, new LaneCancelledError({ key: entry.task.key, reason }));
    this.#hooks.settled(entry.task, { kind: 'cancelled', reason });
    this.#pump(entry.lane);
    return true;
  }

  stats(): WorkerLaneStats {
    return { lanes: this.#lanes.size, queued: this.#queued, running: this.#running, abandoned: this.#abandoned };
  }

  /** Starts the lane's oldest live queued task if nothing runs in it; tears the lane down if it is empty. */
  #pump(lane: Lane): void {
    if (lane.head !== null || (lane.controls !== null && lane.controls.size > 0)) return;
    for (let entry = lane.queue.shift(); entry !== undefined; entry = lane.queue.shift()) {
      if (entry.state !== 'queued') continue;
      this.#queued--;
      lane.head = entry;
      this.#start(entry);
      return;
    }
    // Identity check: a cancelled lane may already have been replaced by a fresh one for the key.
    if (this.#lanes.get(lane.key) === lane) this.#lanes.delete(lane.key);
  }

  #start(entry: Entry): void {
    entry.state = 'running';
    this.#running++;
    const { task } = entry;
    this.#hooks.started?.(task);
    if (task.timeoutMs > 0) entry.timer = setTimeout(this.#onTimeout, task.timeoutMs, entry);
    let result: unknown;
    try {
      result = this.#handler(task.payload, this.#context(entry));
    } catch (error) {
      result = Promise.reject(error);
    }
    // Settle in a later microtask even for a synchronous handler: no recursion through #pump.
    Promise.resolve(result).then(
      (value) => this.#handlerSettled(entry, entry.transfer === undefined ? { kind: 'ok', value } : { kind: 'ok', value, transfer: entry.transfer }),
      (error: unknown) => this.#handlerSettled(entry, { kind: 'error', error }),
    );
  }

  #handlerSettled(entry: Entry, outcome: Outcome): void {
    if (entry.state === 'released') {
      entry.state = 'done';
      this.#abandoned--;
      this.#hooks.abandoned?.(this.#abandoned);
      return;
    }
    if (entry.state !== 'running') return;
    this.#detach(entry);
    entry.state = 'done';
    this.#hooks.settled(entry.task, outcome);
    this.#pump(entry.lane);
  }

  #timeout(entry: Entry): void {
    if (entry.state !== 'running') return;
    const { key, timeoutMs } = entry.task;
    this.#abandon(entry, new LaneTimeoutError({ key, timeoutMs }));
    this.#hooks.settled(entry.task, { kind: 'timeout', timeoutMs });
    this.#pump(entry.lane);
  }

  /** Fires a running task's signal and takes it out of its lane; its promise is now abandoned. */
  #abandon(entry: Entry, reason: Error): void {
    this.#detach(entry);
    entry.state = 'released';
    entry.abortReason = reason;
    entry.controller?.abort(reason);
    this.#abandoned++;
    this.#hooks.abandoned?.(this.#abandoned);
  }

  /** Removes a running task from its lane and the id index. */
  #detach(entry: Entry): void {
    if (entry.timer !== undefined) clearTimeout(entry.timer);
    const { lane } = entry;
    if (lane.head === entry) lane.head = null;
    else lane.controls?.delete(entry);
    this.#byId.delete(entry.task.id);
    this.#running--;
  }

  #context(entry: Entry): HandlerContext {
    return new LaneContext(entry, this.#shard, this.#hooks);
  }

}

/**
 * A handler's `ctx`. A class, not a literal: its accessors live once on the prototype instead of
 * being made again for every task. Both hand out what they return bound to the task, so a handler
 * may destructure `ctx` (`{ key, signal, transfer }`).
 */
class LaneContext implements HandlerContext {
  readonly key: string;
  readonly shard: number;
  readonly attempt: number;
  readonly #entry: Entry;
  readonly #hooks: LaneHooks;

  constructor(entry: Entry, shard: number, hooks: LaneHooks) {
    this.key = entry.task.key;
    this.shard = shard;
    this.attempt = entry.task.attempt ?? 1;
    this.#entry = entry;
    this.#hooks = hooks;
  }

  /** Created on first read, so handlers that never look at it cost nothing. */
  get signal(): AbortSignal {
    const entry = this.#entry;
    if (entry.controller === undefined) {
      entry.controller = new AbortController();
      if (entry.abortReason !== undefined) entry.controller.abort(entry.abortReason);
    }
    return entry.controller.signal;
  }

  /**
   * A getter handing out a function bound to this task, so `const { transfer } = ctx` works as a
   * method on the prototype would not; made only for handlers that reach for it.
   */
  get transfer(): (list: readonly TransferListItem[]) => void {
    const entry = this.#entry;
    return (list) => {
      if (!Array.isArray(list)) throw new TypeError(`ctx.transfer() takes an array, got ${typeof list}`);
      entry.transfer = list;
    };
  }

  /** Bound to the task like `transfer`, and made once per task, so `emit` in a loop allocates nothing. */
  get emit(): (event: unknown) => void {
    const entry = this.#entry;
    const hooks = this.#hooks;
    return (entry.emit ??= (event) => {
      // Only a running task's events go out: see the invariant in the module comment.
      if (entry.state === 'running') hooks.event?.(entry.task, event);
      else hooks.eventDropped?.(entry.task);
    });
  }
}
