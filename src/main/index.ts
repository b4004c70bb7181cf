/**
 * lanepool: a key-affinity sharded worker pool with per-key lanes. This entry is the pool alone: it
 * loads piscina and nothing else outside Node (a test checks). The HTTP service is `lanepool/service`,
 * the JetStream publisher `lanepool/jetstream`.
 *
 * @example
 * import { LanePool } from 'lanepool';
 * const pool = new LanePool({ handler: new URL('./handler.js', import.meta.url) });
 * const reply = await pool.run('thread-42', { type: 'thread.turn.start' });
 * await pool.close();
 */
export { LanePool, type PoolStats, type LanePoolEvents, type PoolPayload, type PoolResult, type PoolEvent } from './pool.ts';
export type { ShardStats, ShardState, ShardStateEvent } from './shard.ts';
export type { Timing } from './timing.ts';
export type { LanePoolOptions, RunOptions, DrainOptions, ReadyOptions, CloseOptions, InspectOptions } from './options.ts';
export { DEFAULTS, MAX_KEY_BYTES, MAX_TIMEOUT_MS, MIN_STALL_TIMEOUT_MS } from './options.ts';
export { estimateBytes } from '../shared/payload-size.ts';
export { shardFor, fnv1a32, jumpHash } from './routing.ts';
export {
  TASK_CHANNEL, SHARD_RESTART_CHANNEL, SHARD_STALL_CHANNEL, SHARD_REPLAY_CHANNEL, SHARD_BACKOFF_CHANNEL, POOL_DRAIN_CHANNEL,
  type TaskContext, type TaskOutcome, type ShardRestartEvent, type ShardStallEvent, type ShardReplayEvent, type ShardBackoffEvent, type PoolDrainEvent,
} from './channels.ts';
export type { Handler, HandlerContext, HandlerInit, HandlerStats, PayloadOf, ResultOf, EventOf } from '../shared/handler.ts';
export type { WorkerLaneStats, WorkerHeap, WorkerReport } from '../shared/protocol.ts';
// Every error class, the service's and JetStream's too: errors.ts loads nothing, and one import gives
// a program every class `instanceof` may need.
export {
  LanePoolError, LaneTimeoutError, LaneCancelledError, QueueFullError, PoolClosedError, DrainTimeoutError,
  ShardRestartedError, HandlerLoadError, DataCloneError, EventTooLargeError, NoSessionError, ProviderError, ProviderExitedError, ConfigError,
  JetStreamError, InvalidIntentError, ERROR_CODES,
  type ErrorCode, type QueueLimit, type RestartReason,
} from '../shared/errors.ts';
