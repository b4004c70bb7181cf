/**
 * The pool's and run()'s options: their types, their defaults, and the one place they are validated.
 * Every message names the option, the value it got, and what it expected.
 */
import { existsSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { resolve as resolvePath } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { getHeapStatistics } from 'node:v8';
import type { ResourceLimits, TransferListItem } from 'node:worker_threads';
import { messageOf } from '../shared/errors.ts';

export interface LanePoolOptions {
  /**
   * Path or file: URL of the handler module (`.js`, `.mjs`, `.cjs`, `.ts`, `.mts`, `.cts`). Its default
   * export is `(payload, ctx) => result | Promise<result>`. A relative path resolves against the cwd.
   */
  handler: string | URL;
  /**
   * Number of worker threads (shards); fixed for the pool's life.
   * @default os.availableParallelism()
   */
  shards?: number;
  /**
   * Default deadline per task in ms, counted from the task's start. 0 means no deadline.
   * @default 0
   */
  taskTimeoutMs?: number;
  /**
   * Most unsettled tasks one key may hold (queued plus running); `run()` past it rejects with `QueueFullError`.
   * Control tasks do not count against it (see `maxQueuedControl`).
   * @default 1000
   */
  maxQueuedPerKey?: number;
  /**
   * Most unsettled tasks the whole pool may hold; `run()` past it rejects with `QueueFullError`.
   * Control tasks do not count against it (see `maxQueuedControl`).
   * @default 100000
   */
  maxQueued?: number;
  /**
   * Most payload bytes the whole pool may hold in unsettled tasks, counted from acceptance until the
   * task settles: each task counts its `run(..., { bytes })`, or else `estimateBytes(payload)`.
   * `run()` past it rejects with `QueueFullError` (`limit: 'maxQueuedBytes'`). A task larger than the
   * bound on its own is admitted only when the pool holds no bytes, so it can still run. Control tasks
   * do not count against it.
   * @default a quarter of this process's V8 heap limit (`v8.getHeapStatistics().heap_size_limit / 4`)
   */
  maxQueuedBytes?: number;
  /**
   * Most payload bytes one key may hold in unsettled tasks; as `maxQueuedBytes`, per key
   * (`limit: 'maxQueuedBytesPerKey'`). A task larger than it alone is admitted when the key holds none.
   * @default a sixteenth of this process's V8 heap limit (`heap_size_limit / 16`)
   */
  maxQueuedBytesPerKey?: number;
  /**
   * Most unsettled control tasks (`priority: 'control'`) the whole pool may hold. They are counted
   * apart from every other bound, so a stop or interrupt gets in even when the pool is full; this
   * small allowance is all that bounds them, so keep control payloads small.
   * @default 1000
   */
  maxQueuedControl?: number;
  /** Passed to each worker thread (see `worker_threads.ResourceLimits`). */
  resourceLimits?: ResourceLimits;
  /**
   * A worker whose event loop shows no heartbeat for this long is declared stalled: it is terminated
   * and replaced, its started tasks fail with `ShardRestartedError`, and its other tasks run on the
   * replacement. 0 turns the watchdog off; otherwise it must be at least `MIN_STALL_TIMEOUT_MS`
   * (100), since a shorter silence is ordinary GC and scheduling jitter. A handler that legitimately
   * blocks its worker longer than this (a long synchronous computation) needs a larger value.
   * @default 5000
   */
  stallTimeoutMs?: number;
  /**
   * How long each worker may take to load the handler: importing the module (its top-level await
   * included) plus its `init()`, counted from the worker's start. Past it the shard fails with
   * `HandlerLoadError`, so `ready()` and `run()` reject instead of waiting forever. 0 means no limit.
   * @default 30000
   */
  loadTimeoutMs?: number;
  /**
   * Cloneable data for the handler module's optional `init(data, { shard })` export, which each worker
   * awaits before it runs a task. Use it for per-worker set-up (a client, a provider, settings).
   */
  handlerData?: unknown;
}

/** `run()`'s options; `E` is the type of the events the handler emits (see `onEvent`). */
export interface RunOptions<E = unknown> {
  /** Deadline in ms counted from the task's start; 0 means none. Defaults to the pool's `taskTimeoutMs`. */
  timeoutMs?: number;
  /** Aborting it cancels the task: dropped if queued, its `ctx.signal` fired if running. */
  signal?: AbortSignal;
  /**
   * `'control'` starts the task as soon as it reaches its worker, beside the lane's running task and
   * ahead of its queued ones. Meant for stop and interrupt.
   * @default 'normal'
   */
  priority?: 'normal' | 'control';
  /**
   * `'idempotent'`: if the task's worker dies after starting it, run it once more on the replacement
   * instead of failing it with `ShardRestartedError`. Only for handlers that are safe to repeat.
   * @default 'none'
   */
  retry?: 'none' | 'idempotent';
  /**
   * The `ctx.attempt` this run starts at: for callers that run a task again after an earlier run of
   * it was lost elsewhere (another process). A worker-death retry adds one more.
   * @default 1
   */
  attempt?: number;
  /** Called on the main thread when the worker reports that the task's handler has been called. */
  onStart?: () => void;
  /**
   * Called on the main thread with each event the handler emits (`ctx.emit(event)`): in emit order,
   * after `onStart`, and every one before the task's promise settles. Events emitted once the task
   * has settled (cancelled, timed out) are dropped and counted in `stats().eventsDropped`. A throw
   * from it is reported as a process warning and changes nothing else: the task and its later
   * events go on.
   * @example
   * await pool.run('thread-7', turn, { onEvent: (event) => sse.write(event) });
   */
  onEvent?: (event: E) => void;
  /**
   * The payload's size in bytes, as the byte bounds should count it (a server passes the request
   * body's length). Without it the pool counts `estimateBytes(payload)`.
   */
  bytes?: number;
  /**
   * Objects in the payload to move to the worker instead of copying (`ArrayBuffer`, `MessagePort`,
   * ...), as `postMessage`'s transfer list: they are unusable on this thread once `run()` returns.
   * A task whose worker dies before starting it cannot be sent again with them (they left with the
   * old worker), so it rejects with `ShardRestartedError` instead of being replayed. To move a result
   * back, the handler calls `ctx.transfer(list)`.
   */
  transferList?: readonly TransferListItem[];
}

export interface DrainOptions {
  /** Reject with `DrainTimeoutError` if the pool (or the key) is not drained within this many ms. */
  timeoutMs?: number;
  /** Aborting it rejects the drain with `signal.reason`; the tasks are not touched. */
  signal?: AbortSignal;
  /**
   * Wait for this key alone: resolve once it has no queued or running task, tasks added meanwhile
   * included, whatever other keys are doing.
   */
  key?: string;
}

export interface ReadyOptions {
  /** Aborting it rejects `ready()` with `signal.reason`; the workers keep loading. */
  signal?: AbortSignal;
}

export interface InspectOptions {
  /** Report a worker that has not answered within this many ms as `undefined`. @default no limit */
  timeoutMs?: number;
}

export interface CloseOptions {
  /** Cancel queued and running tasks instead of waiting for them. @default false */
  force?: boolean;
  /**
   * Aborting it rejects this `close()` with `signal.reason`. The pool stays closed to new tasks and
   * goes on waiting for the accepted ones; `close({ force: true })` then ends them.
   */
  signal?: AbortSignal;
}

/** Options after validation and defaults. */
export interface ResolvedOptions {
  handlerUrl: string;
  shards: number;
  taskTimeoutMs: number;
  maxQueuedPerKey: number;
  maxQueued: number;
  maxQueuedBytes: number;
  maxQueuedBytesPerKey: number;
  maxQueuedControl: number;
  resourceLimits: ResourceLimits | undefined;
  handlerData: unknown;
  stallTimeoutMs: number;
  loadTimeoutMs: number;
}

/** This process's V8 heap limit (`--max-old-space-size` and the like), which the byte bounds derive from. */
const HEAP_LIMIT = getHeapStatistics().heap_size_limit;

export const DEFAULTS = Object.freeze({
  taskTimeoutMs: 0,
  maxQueuedPerKey: 1000,
  maxQueued: 100_000,
  /** `heap_size_limit / 4`: payloads wait on the main thread's heap, with room left for everything else. */
  maxQueuedBytes: Math.floor(HEAP_LIMIT / 4),
  /** `heap_size_limit / 16`: one key cannot take more than a quarter of the pool-wide bound. */
  maxQueuedBytesPerKey: Math.floor(HEAP_LIMIT / 16),
  maxQueuedControl: 1000,
  stallTimeoutMs: 5_000,
  loadTimeoutMs: 30_000,
});

/**
 * The shortest watchdog window, other than 0 (off). The worker beats every `stallTimeoutMs / 5` ms
 * (10 at least) and the watchdog looks every `stallTimeoutMs / 4`; below about 100 ms a GC pause or
 * a busy core reads as a stall, and every worker would be killed over and over.
 */
export const MIN_STALL_TIMEOUT_MS = 100;

/** setTimeout's ceiling; a longer deadline would fire at once. */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;
/** Longest key, in UTF-8 bytes. */
export const MAX_KEY_BYTES = 1024;
const MAX_SHARDS = 1024;
const HANDLER_EXTENSIONS = ['.js', '.mjs', '.cjs', '.ts', '.mts', '.cts'];
const POOL_OPTIONS = new Set([
  'handler', 'shards', 'taskTimeoutMs', 'maxQueuedPerKey', 'maxQueued', 'maxQueuedBytes', 'maxQueuedBytesPerKey', 'maxQueuedControl',
  'resourceLimits', 'handlerData', 'stallTimeoutMs', 'loadTimeoutMs',
]);
const RUN_OPTIONS = new Set(['timeoutMs', 'signal', 'priority', 'onStart', 'onEvent', 'retry', 'attempt', 'bytes', 'transferList']);
const MAX_ATTEMPT = 1_000_000;

export function resolvePoolOptions(options: LanePoolOptions): ResolvedOptions {
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`options must be an object with at least a handler, got ${show(options)}`);
  }
  rejectUnknown(options, POOL_OPTIONS, 'options');
  return {
    handlerUrl: resolveHandler(options.handler),
    shards: integer('options.shards', options.shards ?? availableParallelism(), 1, MAX_SHARDS),
    taskTimeoutMs: integer('options.taskTimeoutMs', options.taskTimeoutMs ?? DEFAULTS.taskTimeoutMs, 0, MAX_TIMEOUT_MS),
    maxQueuedPerKey: integer('options.maxQueuedPerKey', options.maxQueuedPerKey ?? DEFAULTS.maxQueuedPerKey, 1, Number.MAX_SAFE_INTEGER),
    maxQueued: integer('options.maxQueued', options.maxQueued ?? DEFAULTS.maxQueued, 1, Number.MAX_SAFE_INTEGER),
    maxQueuedBytes: integer('options.maxQueuedBytes', options.maxQueuedBytes ?? DEFAULTS.maxQueuedBytes, 1, Number.MAX_SAFE_INTEGER),
    maxQueuedBytesPerKey: integer('options.maxQueuedBytesPerKey', options.maxQueuedBytesPerKey ?? DEFAULTS.maxQueuedBytesPerKey, 1, Number.MAX_SAFE_INTEGER),
    maxQueuedControl: integer('options.maxQueuedControl', options.maxQueuedControl ?? DEFAULTS.maxQueuedControl, 1, Number.MAX_SAFE_INTEGER),
    resourceLimits: resourceLimits(options.resourceLimits),
    handlerData: cloneable('options.handlerData', options.handlerData),
    stallTimeoutMs: stallTimeout(options.stallTimeoutMs ?? DEFAULTS.stallTimeoutMs),
    loadTimeoutMs: integer('options.loadTimeoutMs', options.loadTimeoutMs ?? DEFAULTS.loadTimeoutMs, 0, MAX_TIMEOUT_MS),
  };
}

function stallTimeout(value: unknown): number {
  const ms = integer('options.stallTimeoutMs', value, 0, MAX_TIMEOUT_MS);
  if (ms > 0 && ms < MIN_STALL_TIMEOUT_MS) {
    throw new RangeError(`options.stallTimeoutMs must be 0 (off) or at least ${MIN_STALL_TIMEOUT_MS}, got ${ms}`);
  }
  return ms;
}

/** Validated run() options. */
export interface ResolvedRun {
  timeoutMs: number;
  signal: AbortSignal | undefined;
  control: boolean;
  onStart: (() => void) | undefined;
  onEvent: ((event: unknown) => void) | undefined;
  retry: boolean;
  attempt: number;
  /** The caller's `bytes`, or undefined to estimate from the payload. */
  bytes: number | undefined;
  transfer: readonly TransferListItem[] | undefined;
}

export function resolveRunOptions<E>(options: RunOptions<E> | undefined, defaultTimeoutMs: number): ResolvedRun {
  if (options === undefined) {
    return { timeoutMs: defaultTimeoutMs, signal: undefined, control: false, onStart: undefined, onEvent: undefined, retry: false, attempt: 1, bytes: undefined, transfer: undefined };
  }
  if (options === null || typeof options !== 'object') throw new TypeError(`run options must be an object, got ${show(options)}`);
  rejectUnknown(options, RUN_OPTIONS, 'run options');
  const { signal, priority, onStart, onEvent, retry } = options;
  if (retry !== undefined && retry !== 'none' && retry !== 'idempotent') {
    throw new TypeError(`options.retry must be 'none' or 'idempotent', got ${show(retry)}`);
  }
  if (onStart !== undefined && typeof onStart !== 'function') {
    throw new TypeError(`options.onStart must be a function, got ${show(onStart)}`);
  }
  if (onEvent !== undefined && typeof onEvent !== 'function') {
    throw new TypeError(`options.onEvent must be a function, got ${show(onEvent)}`);
  }
  checkSignal(signal);
  if (options.transferList !== undefined && !Array.isArray(options.transferList)) {
    throw new TypeError(`options.transferList must be an array, got ${show(options.transferList)}`);
  }
  if (priority !== undefined && priority !== 'normal' && priority !== 'control') {
    throw new TypeError(`options.priority must be 'normal' or 'control', got ${show(priority)}`);
  }
  return {
    timeoutMs: integer('options.timeoutMs', options.timeoutMs ?? defaultTimeoutMs, 0, MAX_TIMEOUT_MS),
    signal,
    control: priority === 'control',
    onStart,
    // What arrives is whatever the handler emitted: `E` is the caller's word for it, as `R` is for results.
    onEvent: onEvent as ((event: unknown) => void) | undefined,
    retry: retry === 'idempotent',
    attempt: integer('options.attempt', options.attempt ?? 1, 1, MAX_ATTEMPT),
    bytes: options.bytes === undefined ? undefined : integer('options.bytes', options.bytes, 0, Number.MAX_SAFE_INTEGER),
    transfer: options.transferList,
  };
}

function checkSignal(signal: unknown): asserts signal is AbortSignal | undefined {
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError(`options.signal must be an AbortSignal, got ${show(signal)}`);
  }
}

/** Throws a TypeError or RangeError naming `key` if it is not a usable key. */
export function checkKey(key: unknown): asserts key is string {
  if (typeof key !== 'string') throw new TypeError(`key must be a string, got ${show(key)}`);
  if (key.length === 0) throw new TypeError('key must be a non-empty string');
  // Only measure exactly when the key could be too long: UTF-8 is at most 3 bytes per UTF-16 unit.
  if (key.length * 3 > MAX_KEY_BYTES && Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) {
    throw new RangeError(`key must be at most ${MAX_KEY_BYTES} UTF-8 bytes, got ${Buffer.byteLength(key, 'utf8')}`);
  }
}

export interface ResolvedDrain {
  timeoutMs: number | undefined;
  signal: AbortSignal | undefined;
  key: string | undefined;
}

export function checkDrainOptions(options: DrainOptions | undefined): ResolvedDrain {
  if (options === undefined) return { timeoutMs: undefined, signal: undefined, key: undefined };
  if (options === null || typeof options !== 'object') throw new TypeError(`drain options must be an object, got ${show(options)}`);
  rejectUnknown(options, new Set(['timeoutMs', 'signal', 'key']), 'drain options');
  const { signal, key } = options;
  checkSignal(signal);
  if (key !== undefined) checkKey(key);
  const timeoutMs = options.timeoutMs === undefined ? undefined : integer('options.timeoutMs', options.timeoutMs, 0, MAX_TIMEOUT_MS);
  return { timeoutMs, signal, key };
}

export function checkReadyOptions(options: ReadyOptions | undefined): AbortSignal | undefined {
  if (options === undefined) return undefined;
  if (options === null || typeof options !== 'object') throw new TypeError(`ready options must be an object, got ${show(options)}`);
  rejectUnknown(options, new Set(['signal']), 'ready options');
  checkSignal(options.signal);
  return options.signal;
}

export function checkInspectOptions(options: InspectOptions | undefined): number | undefined {
  if (options === undefined) return undefined;
  if (options === null || typeof options !== 'object') throw new TypeError(`inspect options must be an object, got ${show(options)}`);
  rejectUnknown(options, new Set(['timeoutMs']), 'inspect options');
  if (options.timeoutMs === undefined) return undefined;
  return integer('options.timeoutMs', options.timeoutMs, 0, MAX_TIMEOUT_MS);
}

export function checkCloseOptions(options: CloseOptions | undefined): { force: boolean; signal: AbortSignal | undefined } {
  if (options === undefined) return { force: false, signal: undefined };
  if (options === null || typeof options !== 'object') throw new TypeError(`close options must be an object, got ${show(options)}`);
  rejectUnknown(options, new Set(['force', 'signal']), 'close options');
  if (options.force !== undefined && typeof options.force !== 'boolean') {
    throw new TypeError(`options.force must be a boolean, got ${show(options.force)}`);
  }
  checkSignal(options.signal);
  return { force: options.force === true, signal: options.signal };
}

function resolveHandler(handler: unknown): string {
  let path: string;
  if (handler instanceof URL) {
    if (handler.protocol !== 'file:') throw new TypeError(`options.handler must be a file: URL, got ${handler.href}`);
    path = fileURLToPath(handler);
  } else if (typeof handler === 'string' && handler.length > 0) {
    path = handler.startsWith('file:') ? fileURLToPath(handler) : resolvePath(handler);
  } else {
    throw new TypeError(`options.handler must be a module path or file: URL, got ${show(handler)}`);
  }
  if (!HANDLER_EXTENSIONS.some((ext) => path.endsWith(ext))) {
    throw new TypeError(`options.handler must end in one of ${HANDLER_EXTENSIONS.join(' ')}, got ${path}`);
  }
  if (!existsSync(path) || !statSync(path).isFile()) {
    throw new TypeError(`options.handler names no file: ${path}`);
  }
  return pathToFileURL(path).href;
}

function resourceLimits(value: unknown): ResourceLimits | undefined {
  if (value === undefined) return undefined;
  if (value === null || typeof value !== 'object') throw new TypeError(`options.resourceLimits must be an object, got ${show(value)}`);
  const limits = value as Record<string, unknown>;
  const allowed = new Set(['maxYoungGenerationSizeMb', 'maxOldGenerationSizeMb', 'codeRangeSizeMb', 'stackSizeMb']);
  rejectUnknown(limits, allowed, 'options.resourceLimits');
  for (const [field, v] of Object.entries(limits)) {
    if (v !== undefined && (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v))) {
      throw new RangeError(`options.resourceLimits.${field} must be a positive number, got ${show(v)}`);
    }
  }
  return { ...limits } as ResourceLimits;
}

function cloneable(name: string, value: unknown): unknown {
  try {
    return structuredClone(value);
  } catch (error) {
    throw new TypeError(`${name} must be structured-cloneable: ${messageOf(error)}`);
  }
}

function integer(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new TypeError(`${name} must be an integer, got ${show(value)}`);
  }
  if (value < min || value > max) throw new RangeError(`${name} must be between ${min} and ${max}, got ${value}`);
  return value;
}

function rejectUnknown(object: object, known: Set<string>, where: string): void {
  for (const field of Object.keys(object)) {
    if (!known.has(field)) throw new TypeError(`${where} has an unknown field ${JSON.stringify(field)}; known: ${[...known].join(', ')}`);
  }
}

function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null || typeof value !== 'object') return String(value);
  return Object.prototype.toString.call(value);
}
