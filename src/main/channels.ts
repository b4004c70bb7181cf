/**
 * The `node:diagnostics_channel` channels a pool publishes on, named and shaped as undici's and
 * fastify's are, so an APM tool or a log shipper subscribes without wrapping any call:
 *
 * - `lanepool:task`, a TracingChannel (`tracing:lanepool:task:start`, `:end`, `:asyncStart`,
 *   `:asyncEnd`, `:error`), for every task the pool accepts. `start` and `end` bracket the
 *   synchronous `run()` call; `asyncStart` and `asyncEnd` bracket its settlement; `error` comes
 *   before them for a rejected task. The context (`TaskContext`) is one object for the task's life.
 * - plain channels for pool events: `lanepool:shard:restart`, `lanepool:shard:stall`,
 *   `lanepool:shard:replay`, `lanepool:shard:backoff` and `lanepool:pool:drain`.
 *
 * A channel is process-wide, so every message names its pool; a subscriber compares `event.pool`
 * with its own pool by identity. Nothing is built or published while a channel has no subscriber
 * (`hasSubscribers` is checked first), so an unobserved pool pays one property read per task.
 *
 * @example
 * import { subscribe } from 'node:diagnostics_channel';
 * import { SHARD_RESTART_CHANNEL, type ShardRestartEvent } from 'lanepool';
 * subscribe(SHARD_RESTART_CHANNEL, (message) => {
 *   const event = message as ShardRestartEvent;
 *   if (event.pool === pool) console.warn(`shard ${event.shard} replaced (${event.reason})`);
 * });
 */
import { channel, tracingChannel } from 'node:diagnostics_channel';
import type { RestartReason } from '../shared/errors.ts';

/** The TracingChannel of tasks: subscribe with `diagnostics_channel.tracingChannel(TASK_CHANNEL).subscribe({...})`. */
export const TASK_CHANNEL = 'lanepool:task';
/** A shard's worker was replaced: published once its old thread has exited, as the replacement is sent its tasks. */
export const SHARD_RESTART_CHANNEL = 'lanepool:shard:restart';
/** The watchdog found a shard's worker silent past `stallTimeoutMs` and is stopping it. */
export const SHARD_STALL_CHANNEL = 'lanepool:shard:stall';
/** Tasks a dead worker had not started (or had started under `retry: 'idempotent'`) were sent to its replacement. */
export const SHARD_REPLAY_CHANNEL = 'lanepool:shard:replay';
/** A shard waits this long before starting its next worker (crash-loop backoff; 0 on a first failure). */
export const SHARD_BACKOFF_CHANNEL = 'lanepool:shard:backoff';
/** A `drain()` call settled: drained, timed out or aborted. */
export const POOL_DRAIN_CHANNEL = 'lanepool:pool:drain';

/** How a task settled. */
export type TaskOutcome = 'completed' | 'failed' | 'timedOut' | 'cancelled';

/** The context object of every `lanepool:task` event; the same object from `start` to `asyncEnd`. */
export interface TaskContext {
  pool: object;
  key: string;
  shard: number;
  /** The task's id, unique within its pool. */
  id: number;
  /** `ctx.attempt` of the run: raised if a `retry: 'idempotent'` task runs again after its worker died. */
  attempt: number;
  priority: 'normal' | 'control';
  /** Set when the task settles, before `asyncStart`. */
  outcome?: TaskOutcome;
  /** The value, for a completed task (set by the TracingChannel). */
  result?: unknown;
  /** The rejection, for any other outcome (set by the TracingChannel). */
  error?: unknown;
}

export interface ShardRestartEvent {
  /** The LanePool whose shard it is. */
  pool: object;
  shard: number;
  reason: RestartReason;
  /** Why, in words: the watchdog's finding, or the worker's exit error. */
  detail: string;
  /** Tasks the old worker had not started, sent again to the replacement. */
  replayed: number;
}

export interface ShardStallEvent {
  pool: object;
  shard: number;
  /** The watchdog's finding. */
  detail: string;
}

export interface ShardReplayEvent {
  pool: object;
  shard: number;
  reason: RestartReason;
  /** The tasks sent again, in order. */
  tasks: { id: number; key: string; attempt: number }[];
}

export interface ShardBackoffEvent {
  pool: object;
  shard: number;
  /** How long until the next worker starts. */
  delayMs: number;
  /** Failures in a row, this one included (reset by a worker that stayed up). */
  streak: number;
}

export interface PoolDrainEvent {
  pool: object;
  /** The key of a per-key drain; undefined for the whole pool. */
  key: string | undefined;
  outcome: 'drained' | 'timedOut' | 'aborted';
  durationMs: number;
}

export const taskChannel = tracingChannel<unknown, TaskContext>(TASK_CHANNEL);
const restarts = channel(SHARD_RESTART_CHANNEL);
const stalls = channel(SHARD_STALL_CHANNEL);
const replays = channel(SHARD_REPLAY_CHANNEL);
const backoffs = channel(SHARD_BACKOFF_CHANNEL);
const drains = channel(POOL_DRAIN_CHANNEL);

// Each takes a builder, not an event: nothing is allocated unless someone listens.
export function publishRestart(event: () => ShardRestartEvent): void {
  if (restarts.hasSubscribers) restarts.publish(event());
}

export function publishStall(event: () => ShardStallEvent): void {
  if (stalls.hasSubscribers) stalls.publish(event());
}

export function publishReplay(event: () => ShardReplayEvent): void {
  if (replays.hasSubscribers) replays.publish(event());
}

export function publishBackoff(event: () => ShardBackoffEvent): void {
  if (backoffs.hasSubscribers) backoffs.publish(event());
}

/** True while someone listens for drains; the pool then times its drain() calls. */
export function drainObserved(): boolean {
  return drains.hasSubscribers;
}

export function publishDrain(event: PoolDrainEvent): void {
  if (drains.hasSubscribers) drains.publish(event);
}

/** True while someone listens for replays; the shard then lists the tasks it sends again. */
export function replayObserved(): boolean {
  return replays.hasSubscribers;
}
