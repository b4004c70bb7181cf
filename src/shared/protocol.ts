/**
 * The whole main <-> worker conversation. Read this file to learn what crosses the thread boundary.
 *
 * Piscina owns each worker's life; it runs exactly one long-lived task per worker, the attach task
 * (`AttachRequest`), which hands the worker one end of a MessageChannel. Everything else travels on
 * that channel as *batches*: one `postMessage` carries an array of messages, so that all the traffic
 * a shard produces in one event-loop turn costs one structured clone and one wake-up.
 *
 * Ordering: a channel delivers batches in order and a batch is processed front to back, so the
 * worker sees `run`, `cancel` and `abort` in exactly the order the main thread issued them, and the
 * main thread sees the worker's messages in the order the worker pushed them.
 *
 * The event rule (handler events, `ctx.emit`; the code that keeps it points here):
 *   A task's `event` messages reach the main thread in emit order and before its terminal message
 *   (`ok` or `err`). It holds because both go through the worker's one Outbox, which keeps push order
 *   across batches, and because the worker pushes an event only while the task is running in its
 *   lane (Lanes' `running` state) and pushes the terminal message only once the task has left that
 *   state; an emit after that is dropped in the worker and counted (`dropped`). A task the main thread
 *   settled itself (cancel, a caller's signal, a dead worker) is no longer in its table, so an event
 *   that arrives for it is dropped there and counted. So `onEvent` never runs after its task settled.
 *
 * Shared memory: each worker life also gets one SharedArrayBuffer (`AttachRequest.memory`), laid out
 * as below and accessed through `ShardMemory`. The main thread reads it without a round trip:
 *   - HEARTBEAT_SLOT (Int32 0): the worker adds 1 every `heartbeatMs`; the watchdog reads it.
 *   - LOADED_SLOT (Int32 1): the worker sets it to 1 once the handler is loaded, before it runs any
 *     task. A worker that dies after that is a crash, not a boot failure, even if its `ready`
 *     message (another channel than piscina's exit report) has not arrived yet.
 *   - POSTING_SLOT (Int32 2): the worker sets it to 1 just before each postMessage and back to 0
 *     (with a beat) when it returns. Structured clone runs inside postMessage, synchronously, so a
 *     large result blocks the heartbeat; the watchdog excuses a posting worker, for a bounded time,
 *     because a getter in the result runs user code during the clone and may itself loop forever.
 *   - the started table (Float64 from byte STARTED_OFFSET, STARTED_CAPACITY entries): which tasks
 *     the worker has started and not yet reported, kept by the rule below.
 *
 * The "started" rule (the one place it is written; the code that keeps it points here):
 *   A task has started once its handler has been called. The worker writes the task's id into a free
 *   entry of the started table *before* calling the handler (StartedTable.mark); if the table is full
 *   it posts the `started` message at once instead, before the handler can block the thread. It frees
 *   the entry only after the task's terminal message has been posted (Outbox's `onFlushed`), or at
 *   once for a task the main thread cancelled (already settled there). So at every moment a started
 *   task is visible to the main thread: in the table, or in a message that will arrive. The main
 *   thread reads the table only after the worker's thread has exited (ShardWorker's recovery), when
 *   it can no longer change; then "started" is exactly: in the table, or announced by a `started`
 *   message. A task that had not started is sent again to the replacement worker; a started one runs
 *   again only if it asked to (`retry: 'idempotent'`), and only once (Shard's `#lost`).
 */
import type { MessagePort } from 'node:worker_threads';
import type { WireError } from './errors.ts';

/** The payload of the attach task that piscina runs once per worker life. */
export interface AttachRequest {
  /** The shard this worker serves; it never changes for the worker's life. */
  shard: number;
  /** The worker's end of the channel; transferred. */
  port: MessagePort;
  /** file: URL of the user's handler module. */
  handler: string;
  /** Passed to the handler module's optional `init` export before the first task. */
  handlerData: unknown;
  /** This worker life's shared memory (see the layout above); fresh for every attach. */
  memory: SharedArrayBuffer;
  /** How often to bump the heartbeat; 0 means never (the watchdog is off). */
  heartbeatMs: number;
  /** The largest event `ctx.emit` takes, as `estimateBytes` counts it (the pool's `maxQueuedBytesPerKey`). */
  maxEventBytes: number;
}

export const HEARTBEAT_SLOT = 0;
export const LOADED_SLOT = 1;
export const POSTING_SLOT = 2;
/** After the Int32 slots, aligned for Float64. */
export const STARTED_OFFSET = 16;
/** Started-but-not-yet-reported tasks one worker can record; beyond it, `started` is flushed at once. */
export const STARTED_CAPACITY = 65_536;
export const MEMORY_BYTES = STARTED_OFFSET + 8 * STARTED_CAPACITY;

/**
 * What the attach task resolves to: `closed` once the worker was told to close, or `fatal` when the
 * handler could not be loaded. The load error travels here, not on the port, so the main thread
 * cannot see the task end before it learns why.
 */
export type AttachResult = { closed: true } | { fatal: WireError };

/** Start a task. `control` tasks start at once, beside the lane's running task. */
export interface RunMessage {
  t: 'run';
  id: number;
  key: string;
  payload: unknown;
  /** Deadline counted from the task's start; 0 means none. */
  timeoutMs: number;
  control: boolean;
  /** 1 on the first run; higher when the task runs again (ctx.attempt). */
  attempt: number;
}

/** Release the key's running tasks (their signals fire) and drop its queued ones. */
export interface CancelKeyMessage {
  t: 'cancel';
  key: string;
  reason: string;
}

/** Release one task: drop it if queued, fire its signal and move on if running. */
export interface AbortTaskMessage {
  t: 'abort';
  id: number;
  reason: string;
}

/** Ask for the worker's own view of its lanes, heap and handler; answered with a `ProbeReply` of the same id. */
export interface ProbeMessage {
  t: 'probe';
  id: number;
}

/** Finish the attach task; the worker stops reading its port. */
export interface CloseMessage {
  t: 'close';
}

export type ToWorker = RunMessage | CancelKeyMessage | AbortTaskMessage | ProbeMessage | CloseMessage;

/** The worker has loaded the handler and is reading its port. */
export interface ReadyMessage {
  t: 'ready';
}

/** The task has started: its handler has been called. */
export interface StartedMessage {
  t: 'started';
  id: number;
}

/** The task finished with a value. */
export interface OkMessage {
  t: 'ok';
  id: number;
  value: unknown;
}

/** The task failed: its handler threw, its deadline passed, or its result could not be cloned. */
export interface ErrMessage {
  t: 'err';
  id: number;
  error: WireError;
}

/**
 * The running task's handler called `ctx.emit(event)`, once for each of `events`, in that order: the
 * worker adds a task's events to its last message while nothing else was queued after it, so a
 * handler emitting in a loop costs one message per batch, not one per event. Each event is a
 * structured-clone snapshot taken at the call, so later changes to the handler's object do not
 * show. See the event rule above.
 */
export interface EventMessage {
  t: 'event';
  id: number;
  events: unknown[];
}

/** This many more events were emitted after their task had settled, and dropped in the worker. */
export interface DroppedMessage {
  t: 'dropped';
  count: number;
}

/** The number of released tasks whose handler promise has still not settled. */
export interface AbandonedMessage {
  t: 'abandoned';
  count: number;
}

/** The worker's lane table as it stands when the probe is read. */
export interface WorkerLaneStats {
  lanes: number;
  queued: number;
  running: number;
  abandoned: number;
}

/** The worker's own V8 heap (`v8.getHeapStatistics()` run in the worker: its isolate, not the process). */
export interface WorkerHeap {
  usedBytes: number;
  totalBytes: number;
  limitBytes: number;
}

/**
 * What a probe reports: the lane table, the heap, and the handler module's own gauges (its optional
 * `stats()` export, see HandlerStats; empty without one, or when it throws).
 */
export interface WorkerReport extends WorkerLaneStats {
  heap: WorkerHeap;
  handler: Record<string, number>;
}

export interface ProbeReply {
  t: 'probe';
  id: number;
  stats: WorkerReport;
}

export type FromWorker =
  | ReadyMessage | StartedMessage | EventMessage | OkMessage | ErrMessage | DroppedMessage | AbandonedMessage | ProbeReply;
