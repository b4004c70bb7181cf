/**
 * lanepool: a key-affinity sharded worker pool with per-key lanes.
 *
 * @example
 * import { LanePool } from 'lanepool';
 * const pool = new LanePool({ handler: new URL('./handler.ts', import.meta.url) });
 * const reply = await pool.run('thread-42', { type: 'thread.turn.start' });
 * await pool.close();
 */
export { LanePool, type PoolStats } from './pool.ts';
export type { ShardStats, ShardState } from './shard.ts';
export type { LanePoolOptions, RunOptions, DrainOptions, CloseOptions, InspectOptions } from './options.ts';
export { DEFAULTS, MAX_KEY_BYTES, MAX_TIMEOUT_MS, MIN_STALL_TIMEOUT_MS } from './options.ts';
export { estimateBytes } from './payload-size.ts';
export { shardFor, fnv1a32, jumpHash } from './routing.ts';
export { SHARD_RESTART_CHANNEL, type ShardRestartEvent } from './channels.ts';
export type { Handler, HandlerContext, HandlerInit, HandlerStats } from '../shared/handler.ts';
export {
  intentPublisher, type IntentMessage, type IntentPublisherOptions, type PublishIntent, type PublishResult,
} from './jetstream/publisher.ts';
export type { StoredIntent } from './jetstream/intent-store.ts';
export type { ProviderFactory, Provider, ProviderSession } from '../shared/provider.ts';
export type { IntentType } from '../shared/intents.ts';
export type { WorkerLaneStats, WorkerHeap, WorkerReport } from '../shared/protocol.ts';
export {
  LanePoolError, LaneTimeoutError, LaneCancelledError, QueueFullError, PoolClosedError, DrainTimeoutError,
  ShardRestartedError, HandlerLoadError, DataCloneError, NoSessionError, ProviderError, ConfigError,
  JetStreamError, InvalidIntentError, ERROR_CODES,
  type ErrorCode, type QueueLimit, type RestartReason,
} from '../shared/errors.ts';
