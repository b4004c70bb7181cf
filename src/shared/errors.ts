/**
 * Every error lanepool raises, each with a stable `code`. Codes are a contract: never reuse or rename
 * one. The README's errors table is checked against `ERROR_CODES` by a test.
 *
 * Errors cross the thread boundary as plain data (`WireError`): a worker's Error loses its extra
 * fields in structured clone, so `toWire` copies them explicitly and `fromWire` rebuilds the right
 * class on the other side.
 */

/** Base class of every error lanepool raises itself. */
export abstract class LanePoolError extends Error {
  abstract readonly code: string;
}

/** A task ran past its deadline (`timeoutMs`, counted from when it started). The lane has moved on. */
export class LaneTimeoutError extends LanePoolError {
  readonly code = 'ERR_LANE_TIMEOUT';
  readonly key: string;
  readonly timeoutMs: number;
  constructor(data: { key: string; timeoutMs: number }) {
    super(`task on key ${JSON.stringify(data.key)} timed out after ${data.timeoutMs} ms`);
    this.name = 'LaneTimeoutError';
    this.key = data.key;
    this.timeoutMs = data.timeoutMs;
  }
}

/**
 * A task was cancelled by `cancel(key)`, by its caller's `signal`, or by `close({ force: true })`.
 * When the caller's signal did it, `cause` is `signal.reason` as it was: a `DOMException` named
 * `TimeoutError` for `AbortSignal.timeout()`, `AbortError` for a bare `controller.abort()`, or the
 * caller's own value. `cancel(key)` and `close({ force })` leave `cause` undefined.
 */
export class LaneCancelledError extends LanePoolError {
  readonly code = 'ERR_LANE_CANCELLED';
  readonly key: string;
  readonly reason: string;
  constructor(data: { key: string; reason: string; cause?: unknown }) {
    super(`task on key ${JSON.stringify(data.key)} was cancelled: ${data.reason}`, 'cause' in data ? { cause: data.cause } : undefined);
    this.name = 'LaneCancelledError';
    this.key = data.key;
    this.reason = data.reason;
  }
}

/** Which queue bound refused a `run()`: a count of tasks, or a sum of payload bytes. */
export type QueueLimit = 'maxQueuedPerKey' | 'maxQueued' | 'maxQueuedBytesPerKey' | 'maxQueuedBytes' | 'maxQueuedControl';

/** `run()` was refused because the key's lane or the whole pool is at one of its queue bounds. */
export class QueueFullError extends LanePoolError {
  readonly code = 'ERR_QUEUE_FULL';
  readonly key: string;
  /** Which limit was hit. */
  readonly limit: QueueLimit;
  /** The limit's value: tasks, or bytes for `maxQueuedBytes` and `maxQueuedBytesPerKey`. */
  readonly max: number;
  constructor(data: { key: string; limit: QueueLimit; max: number }) {
    const unit = data.limit === 'maxQueuedBytes' || data.limit === 'maxQueuedBytesPerKey' ? 'bytes' : 'tasks';
    super(`queue full for key ${JSON.stringify(data.key)}: ${data.limit} is ${data.max} ${unit}`);
    this.name = 'QueueFullError';
    this.key = data.key;
    this.limit = data.limit;
    this.max = data.max;
  }
}

/** `run()` was called after `close()`. */
export class PoolClosedError extends LanePoolError {
  readonly code = 'ERR_POOL_CLOSED';
  constructor() {
    super('the pool is closed');
    this.name = 'PoolClosedError';
  }
}

/** `drain({ timeoutMs })` ran out of time; `keys` lists the keys that still had work. */
export class DrainTimeoutError extends LanePoolError {
  readonly code = 'ERR_DRAIN_TIMEOUT';
  readonly keys: string[];
  readonly timeoutMs: number;
  constructor(data: { keys: string[]; timeoutMs: number }) {
    const shown = data.keys.slice(0, 10).map((k) => JSON.stringify(k)).join(', ');
    const more = data.keys.length > 10 ? ` and ${data.keys.length - 10} more` : '';
    super(`drain did not finish within ${data.timeoutMs} ms; busy keys: ${shown}${more}`);
    this.name = 'DrainTimeoutError';
    this.keys = data.keys;
    this.timeoutMs = data.timeoutMs;
  }
}

/** Why a shard's worker was replaced. */
export type RestartReason = 'stall' | 'crash' | 'oom';

/** The task's worker died (or was stopped as stalled) after the task had been sent to it. */
export class ShardRestartedError extends LanePoolError {
  readonly code = 'ERR_SHARD_RESTARTED';
  readonly shard: number;
  readonly key: string;
  readonly reason: RestartReason;
  readonly detail: string;
  constructor(data: { shard: number; key: string; reason: RestartReason; detail?: string }) {
    const detail = data.detail ? ` (${data.detail})` : '';
    super(`shard ${data.shard} restarted (${data.reason}) while it held a task for key ${JSON.stringify(data.key)}${detail}`);
    this.name = 'ShardRestartedError';
    this.shard = data.shard;
    this.key = data.key;
    this.reason = data.reason;
    this.detail = data.detail ?? '';
  }
}

/** The handler module could not be loaded in the worker, or its default export is not a function. */
export class HandlerLoadError extends LanePoolError {
  readonly code = 'ERR_HANDLER_LOAD';
  readonly handler: string;
  readonly detail: string;
  constructor(data: { handler: string; detail: string }) {
    super(`cannot load handler ${data.handler}: ${data.detail}`);
    this.name = 'HandlerLoadError';
    this.handler = data.handler;
    this.detail = data.detail;
  }
}

/**
 * A task's payload, result or event cannot cross the thread boundary (structured clone refused it).
 * For an event (`what: 'event'`), `ctx.emit` throws it in the handler, synchronously.
 */
export class DataCloneError extends LanePoolError {
  readonly code = 'ERR_DATA_CLONE';
  readonly key: string;
  readonly what: 'payload' | 'result' | 'event';
  readonly detail: string;
  constructor(data: { key: string; what: 'payload' | 'result' | 'event'; detail: string }) {
    super(`the ${data.what} of a task on key ${JSON.stringify(data.key)} cannot be cloned: ${data.detail}`);
    this.name = 'DataCloneError';
    this.key = data.key;
    this.what = data.what;
    this.detail = data.detail;
  }
}

/**
 * `ctx.emit(event)` was given an event larger than the pool's `maxQueuedBytesPerKey`, as
 * `estimateBytes` counts it: more than its key may hold on the main thread. Thrown in the handler,
 * synchronously; the event is not sent and the task goes on.
 */
export class EventTooLargeError extends LanePoolError {
  readonly code = 'ERR_EVENT_TOO_LARGE';
  readonly key: string;
  /** The event's estimated size. */
  readonly bytes: number;
  /** The bound it passed. */
  readonly max: number;
  constructor(data: { key: string; bytes: number; max: number }) {
    super(`an event of a task on key ${JSON.stringify(data.key)} is about ${data.bytes} bytes, over maxQueuedBytesPerKey (${data.max} bytes)`);
    this.name = 'EventTooLargeError';
    this.key = data.key;
    this.bytes = data.bytes;
    this.max = data.max;
  }
}

/** The service's reactor: an intent that needs a live session found none (start a turn first). */
export class NoSessionError extends LanePoolError {
  readonly code = 'ERR_NO_SESSION';
  readonly key: string;
  readonly intent: string;
  constructor(data: { key: string; intent: string }) {
    super(`${data.intent} needs a live session, and thread ${JSON.stringify(data.key)} has none`);
    this.name = 'NoSessionError';
    this.key = data.key;
    this.intent = data.intent;
  }
}

/** The service's provider (the simulator, or a provider module) failed an operation. */
export class ProviderError extends LanePoolError {
  readonly code = 'ERR_PROVIDER';
  readonly operation: string;
  readonly detail: string;
  constructor(data: { operation: string; detail: string }) {
    super(`provider ${data.operation} failed: ${data.detail}`);
    this.name = 'ProviderError';
    this.operation = data.operation;
    this.detail = data.detail;
  }
}

/**
 * The service's agent process (`--provider codex` or `acp`) exited while a call needed it, or had
 * exited before the call. The session is dead: the thread's next turn starts a new one.
 */
export class ProviderExitedError extends LanePoolError {
  readonly code = 'ERR_PROVIDER_EXITED';
  readonly operation: string;
  readonly pid: number;
  /** The exit code, or null when a signal ended it. */
  readonly exitCode: number | null;
  readonly exitSignal: string | null;
  /** The last lines the agent wrote to stderr (bounded). */
  readonly stderr: string;
  constructor(data: { operation: string; pid: number; exitCode: number | null; exitSignal: string | null; stderr?: string }) {
    const how = data.exitSignal !== null ? `signal ${data.exitSignal}` : `code ${data.exitCode}`;
    const tail = data.stderr ? `; stderr: ${data.stderr.trim().split('\n').slice(-3).join(' | ')}` : '';
    super(`the agent process (pid ${data.pid}) exited (${how}) during ${data.operation}${tail}`);
    this.name = 'ProviderExitedError';
    this.operation = data.operation;
    this.pid = data.pid;
    this.exitCode = data.exitCode;
    this.exitSignal = data.exitSignal;
    this.stderr = data.stderr ?? '';
  }
}

/** The service's configuration (a flag or environment variable) is invalid; nothing was started. */
export class ConfigError extends LanePoolError {
  readonly code = 'ERR_CONFIG';
  readonly detail: string;
  constructor(data: { detail: string }) {
    super(data.detail);
    this.name = 'ConfigError';
    this.detail = data.detail;
  }
}

/** JetStream mode: the NATS server could not be reached, or refused a request (publish, KV, consumer). */
export class JetStreamError extends LanePoolError {
  readonly code = 'ERR_JETSTREAM';
  readonly operation: string;
  readonly detail: string;
  constructor(data: { operation: string; detail: string }) {
    super(`JetStream ${data.operation} failed: ${data.detail}`);
    this.name = 'JetStreamError';
    this.operation = data.operation;
    this.detail = data.detail;
  }
}

/** `publishIntent()` was given an intent that the service would refuse (bad thread, type or payload). */
export class InvalidIntentError extends LanePoolError {
  readonly code = 'ERR_INVALID_INTENT';
  readonly detail: string;
  /** True when the intent is valid but larger than the NATS server's max_payload. */
  readonly tooLarge: boolean;
  constructor(data: { detail: string; tooLarge?: boolean }) {
    super(`invalid intent: ${data.detail}`);
    this.name = 'InvalidIntentError';
    this.detail = data.detail;
    this.tooLarge = data.tooLarge ?? false;
  }
}

type ErrorClass = new (data: never) => LanePoolError;

/** Every lanepool error class, by code. */
const CLASSES = {
  ERR_LANE_TIMEOUT: LaneTimeoutError,
  ERR_LANE_CANCELLED: LaneCancelledError,
  ERR_QUEUE_FULL: QueueFullError,
  ERR_POOL_CLOSED: PoolClosedError,
  ERR_DRAIN_TIMEOUT: DrainTimeoutError,
  ERR_SHARD_RESTARTED: ShardRestartedError,
  ERR_HANDLER_LOAD: HandlerLoadError,
  ERR_DATA_CLONE: DataCloneError,
  ERR_EVENT_TOO_LARGE: EventTooLargeError,
  ERR_NO_SESSION: NoSessionError,
  ERR_PROVIDER: ProviderError,
  ERR_PROVIDER_EXITED: ProviderExitedError,
  ERR_CONFIG: ConfigError,
  ERR_JETSTREAM: JetStreamError,
  ERR_INVALID_INTENT: InvalidIntentError,
} as const satisfies Record<string, ErrorClass>;

export type ErrorCode = keyof typeof CLASSES;

/** The stable codes of every lanepool error. */
export const ERROR_CODES = Object.freeze(Object.keys(CLASSES) as ErrorCode[]);

/** An error as plain, cloneable data. */
export interface WireError {
  name: string;
  message: string;
  stack?: string;
  code?: string | number;
  /** Other own enumerable fields that survived a clone check. */
  data?: Record<string, unknown>;
  /** True when lanepool raised it; `code` then names a class in `CLASSES`. */
  own?: boolean;
}

const STANDARD: Record<string, new (message: string) => Error> = {
  Error, TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError,
};

/** Longest string a WireError carries; past it a string is cut, so one huge thrown value cannot swamp the channel. */
export const MAX_WIRE_TEXT = 64 * 1024;
/** Fields of an Error that WireError carries itself, and `__proto__`, which would reshape the copy. */
const SKIPPED_FIELDS = new Set(['code', 'name', 'message', 'stack', '__proto__']);

/**
 * Turns anything thrown into cloneable data, keeping name, message, stack, code and extra fields.
 *
 * Total: it never throws and always returns plain strings, numbers and structured-clone copies, whatever
 * was thrown. A thrown value is user code (a getter, a Proxy trap, a `toString`), so every read is
 * guarded: a Symbol `name`, a throwing getter or a revoked Proxy degrade to a description, never to an
 * exception in the worker (which would kill the shard) or an unsendable message (which would lose the task).
 */
export function toWire(thrown: unknown): WireError {
  try {
    if (!isError(thrown)) return { name: 'Error', message: `non-error value thrown: ${printable(thrown)}` };
    return errorToWire(thrown);
  } catch {
    // Every read below is guarded already; this is the last line, for a trap we did not foresee.
    return { name: 'Error', message: `an unreadable ${typeof thrown} was thrown` };
  }
}

/** The message of anything thrown, as a string; never throws. For log lines and `detail` fields. */
export function messageOf(thrown: unknown): string {
  return toWire(thrown).message;
}

function errorToWire(thrown: Error): WireError {
  const wire: WireError = { name: text(read(thrown, 'name'), 'Error'), message: text(read(thrown, 'message'), '') };
  // V8 formats `stack` lazily from `name`: with a Symbol name, reading it throws.
  const stack = read(thrown, 'stack');
  if (typeof stack === 'string') wire.stack = cut(stack);
  const code = read(thrown, 'code');
  if (typeof code === 'string') wire.code = cut(code);
  else if (typeof code === 'number') wire.code = code;
  if (guard(() => thrown instanceof LanePoolError, false)) wire.own = true;
  const data: Record<string, unknown> = {};
  let any = false;
  for (const field of guard(() => Object.keys(thrown), [])) {
    if (SKIPPED_FIELDS.has(field)) continue;
    const copy = cloneOf(read(thrown, field));
    if (copy === UNCLONEABLE) continue;
    data[field] = copy;
    any = true;
  }
  if (any) wire.data = data;
  return wire;
}

/**
 * Rebuilds an error from `toWire` output: lanepool's own errors as their class, others as the nearest
 * standard class. `fields` override the own error's data (the receiver knows the task's key best).
 * Never throws: own-error data that its class refuses falls back to a plain Error with the same code.
 */
export function fromWire(wire: WireError, fields?: Record<string, unknown>): Error {
  if (wire.own && typeof wire.code === 'string' && wire.code in CLASSES) {
    const Class = CLASSES[wire.code as ErrorCode] as unknown as new (data: unknown) => LanePoolError;
    const error = guard(() => new Class({ ...wire.data, ...fields }), undefined);
    if (error !== undefined) {
      if (wire.stack !== undefined) error.stack = wire.stack;
      return error;
    }
  }
  const Class = STANDARD[wire.name] ?? Error;
  const error = new Class(wire.message);
  if (error.name !== wire.name) {
    Object.defineProperty(error, 'name', { value: wire.name, writable: true, configurable: true, enumerable: false });
  }
  if (wire.stack !== undefined) error.stack = wire.stack;
  if (wire.code !== undefined) (error as Error & { code?: unknown }).code = wire.code;
  if (wire.data) Object.assign(error, wire.data);
  return error;
}

const UNCLONEABLE = Symbol('uncloneable');

/** A structured-clone copy (plain data: no getters left to run later), or UNCLONEABLE. */
function cloneOf(value: unknown): unknown {
  if (typeof value === 'string') return cut(value);
  if (typeof value === 'function' || typeof value === 'symbol') return UNCLONEABLE;
  if (value === null || typeof value !== 'object') return value;
  return guard<unknown>(() => structuredClone(value), UNCLONEABLE);
}

function isError(value: unknown): value is Error {
  // `instanceof` runs a Proxy's getPrototypeOf trap, which a revoked Proxy answers by throwing.
  return guard(() => value instanceof Error, false);
}

const UNREADABLE = Symbol('unreadable');

function read(object: object, field: string): unknown {
  return guard(() => (object as Record<string, unknown>)[field], UNREADABLE);
}

/** A string field as it is; anything else as `printable` shows it; a missing or unreadable one as `fallback`. */
function text(value: unknown, fallback: string): string {
  if (typeof value === 'string') return cut(value);
  if (value === undefined || value === UNREADABLE) return fallback;
  return printable(value);
}

/** Any value as text for a message: a string quoted, anything else through String(); never throws. */
function printable(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(cut(value));
  // String() (not a template literal) also prints a Symbol; it may still run a throwing toString.
  return guard(() => {
    const shown: unknown = String(value);
    return typeof shown === 'string' ? cut(shown) : typeof value;
  }, `an unprintable ${typeof value}`);
}

function cut(value: string): string {
  return value.length <= MAX_WIRE_TEXT ? value : `${value.slice(0, MAX_WIRE_TEXT)}... (${value.length - MAX_WIRE_TEXT} more characters)`;
}

function guard<T>(read: () => T, fallback: T): T {
  try {
    return read();
  } catch {
    return fallback;
  }
}
