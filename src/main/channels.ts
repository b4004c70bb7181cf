/**
 * The `node:diagnostics_channel` channels a pool publishes on: pool events for logs and metrics,
 * without an event API on LanePool itself. A channel is process-wide, so every event names its pool;
 * a subscriber compares `event.pool` with its own pool by identity. Nothing is built or published
 * while a channel has no subscriber.
 *
 * @example
 * import { subscribe } from 'node:diagnostics_channel';
 * import { SHARD_RESTART_CHANNEL, type ShardRestartEvent } from 'lanepool';
 * subscribe(SHARD_RESTART_CHANNEL, (message) => {
 *   const event = message as ShardRestartEvent;
 *   if (event.pool === pool) console.warn(`shard ${event.shard} replaced (${event.reason})`);
 * });
 */
import { channel } from 'node:diagnostics_channel';
import type { RestartReason } from '../shared/errors.ts';

/** A shard's worker was replaced: published once its old thread has exited, as the replacement is sent its tasks. */
export const SHARD_RESTART_CHANNEL = 'lanepool:shard:restart';

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

const restarts = channel(SHARD_RESTART_CHANNEL);

export function publishRestart(event: () => ShardRestartEvent): void {
  if (restarts.hasSubscribers) restarts.publish(event());
}
