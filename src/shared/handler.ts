/** The types a handler module is written against. A handler module's default export is a `Handler`. */
import type { TransferListItem } from 'node:worker_threads';

/** What a handler receives beside its payload; `E` is the type of the events it emits. */
export interface HandlerContext<E = unknown> {
  /** The task's key (for the service, the threadId). */
  readonly key: string;
  /** The shard (worker) running the task. */
  readonly shard: number;
  /**
   * 1 on the first run. Higher when the task runs again after its run was cut short: a worker that
   * died under a `retry: 'idempotent'` task, or a caller that passed `attempt` to `run()` (the
   * JetStream mode does, for an intent whose instance died while running it). Lets handlers be idempotent.
   */
  readonly attempt: number;
  /**
   * Fires when the task is cancelled (`cancel(key)`, the caller's signal, `close({ force })`) or its
   * deadline passes. The lane has already moved on by then; stop work and let the promise settle.
   */
  readonly signal: AbortSignal;
  /**
   * Moves these objects (an `ArrayBuffer` in the result, ...) to the main thread with the result,
   * instead of copying them; the last call before the handler returns wins.
   */
  transfer(list: readonly TransferListItem[]): void;
  /**
   * Sends `event` to the caller's `onEvent` (a `run()` option) on the main thread, while the task
   * runs: progress, a token of a streamed answer. The caller gets a task's events in emit order and
   * all of them before the task's promise settles. The event is copied (structured clone) at the
   * call, so changing the object afterwards does not change what arrives.
   *
   * Once the task has settled (cancelled, timed out, or the handler's promise settled) an event is
   * dropped, silently for the handler, and counted in `stats().eventsDropped`.
   * @throws DataCloneError (`what: 'event'`) if structured clone refuses the event (a function, a
   *   getter that throws), or EventTooLargeError past the pool's `maxQueuedBytesPerKey`; the event is
   *   not sent and the task goes on.
   * @example
   * for await (const token of stream) ctx.emit({ type: 'token', token });
   */
  emit(event: E): void;
}

/**
 * The default export of a handler module.
 *
 * @example
 * // handler.ts
 * import type { Handler } from 'lanepool';
 * const handler: Handler<{ n: number }, number> = async ({ n }, { signal }) => n + 1;
 * export default handler;
 *
 * // with events: the pool typed by it passes `{ done: number }` to `onEvent`
 * const counting: Handler<{ n: number }, number, { done: number }> = async ({ n }, { emit }) => {
 *   for (let done = 1; done <= n; done++) emit({ done });
 *   return n;
 * };
 */
export type Handler<P = unknown, R = unknown, E = unknown> = (payload: P, ctx: HandlerContext<E>) => R | Promise<R>;

/**
 * The optional named export `init` of a handler module. Each worker awaits it once, with the pool's
 * `handlerData`, before running any task; if it throws, the pool reports a HandlerLoadError.
 */
export type HandlerInit<D = unknown> = (data: D, info: { shard: number }) => void | Promise<void>;

/**
 * The optional named export `stats` of a handler module: named gauges of the handler's own state in
 * one worker (cache sizes, open sessions), reported with the worker's lanes and heap by
 * `pool.inspect()`. Called on the worker's thread when a probe is read, so it must be cheap and
 * synchronous. Values that are not finite numbers are dropped; if it throws, the probe reports `{}`.
 *
 * @example
 * export const stats: HandlerStats = () => ({ sessions: sessions.size });
 */
export type HandlerStats = () => Record<string, number>;

/** A handler's payload type: what `run()` takes when a pool is typed by its handler. */
export type PayloadOf<H> = H extends (payload: infer P, ctx: HandlerContext) => unknown ? P : never;

/** A handler's result type, unwrapped from its promise: what `run()` resolves to. */
export type ResultOf<H> = H extends (payload: never, ctx: HandlerContext) => infer R ? Awaited<R> : never;

/** A handler's event type: what `onEvent` receives when a pool is typed by its handler. */
export type EventOf<H> = H extends (payload: never, ctx: HandlerContext<infer E>) => unknown ? E : never;
