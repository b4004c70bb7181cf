/**
 * What the JetStream mode keeps on the NATS server, and how it is named. One name (`--nats-stream`,
 * default `LANEPOOL`) derives everything, so several deployments can share one server:
 *
 *   stream   LANEPOOL               subjects LANEPOOL.intents.<partition>, work-queue retention
 *   consumer LANEPOOL / p<N>        durable pull consumer, filter LANEPOOL.intents.<N>
 *   KV       LANEPOOL_leases        p.<N> -> owner lease, m.<instance> -> membership (TTL = lease TTL)
 *   KV       LANEPOOL_intents       <intentId> -> intent status and result (TTL = record retention)
 *
 * A thread's partition is `shardFor(threadId, partitions)`: the FNV-1a + jump hash of shard routing.
 */
import { AckPolicy, DeliverPolicy, RetentionPolicy, StorageType, nanos, type JetStreamManager } from 'nats';
import { ConfigError, messageOf } from '../../shared/errors.ts';
import { shardFor } from '../routing.ts';
import { jetStreamCall } from './nats-errors.ts';

export const STREAM_NAME_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;
/** How long the server remembers a Nats-Msg-Id to drop a duplicate publish. */
const DUPLICATE_WINDOW_MS = 120_000;

export interface Topology {
  readonly stream: string;
  readonly partitions: number;
  readonly leaseBucket: string;
  readonly intentBucket: string;
}

export function topology(stream: string, partitions: number): Topology {
  if (!STREAM_NAME_PATTERN.test(stream)) throw new ConfigError({ detail: `invalid stream name ${JSON.stringify(stream)}: 1 to 32 of [A-Za-z0-9_-]` });
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > 1024) {
    throw new ConfigError({ detail: `invalid partition count ${partitions}: an integer from 1 to 1024` });
  }
  return { stream, partitions, leaseBucket: `${stream}_leases`, intentBucket: `${stream}_intents` };
}

export function partitionOf(topo: Topology, threadId: string): number {
  return shardFor(threadId, topo.partitions);
}

export function subjectOf(topo: Topology, partition: number): string {
  return `${topo.stream}.intents.${partition}`;
}

export function consumerOf(partition: number): string {
  return `p${partition}`;
}

/** The stream's description records the partition count, so a mismatched instance refuses to start. */
function streamDescription(topo: Topology): string {
  return `lanepool intents; partitions=${topo.partitions}`;
}

/**
 * Creates the stream if it is missing; if it exists, checks that it was made for the same partition
 * count (a different count would route threads to other partitions and break per-thread order).
 */
export async function ensureStream(jsm: JetStreamManager, topo: Topology): Promise<void> {
  const existing = await jetStreamCall('stream info', () => jsm.streams.info(topo.stream)).catch((error: unknown) => {
    if (isNotFound(error)) return undefined;
    throw error;
  });
  if (existing !== undefined) {
    if (existing.config.description !== streamDescription(topo)) {
      throw new ConfigError({
        detail: `invalid --nats-partitions (LANEPOOL_NATS_PARTITIONS): stream ${topo.stream} was made as "${existing.config.description ?? ''}", not for ${topo.partitions} partitions`,
      });
    }
    return;
  }
  await jetStreamCall('stream create', () => jsm.streams.add({
    name: topo.stream,
    description: streamDescription(topo),
    subjects: [`${topo.stream}.intents.*`],
    // Work queue: an acknowledged intent is deleted, so a partition's consumer, recreated at a
    // takeover, replays exactly the unacknowledged intents, in stream order.
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    duplicate_window: nanos(DUPLICATE_WINDOW_MS),
  })).catch(async (error: unknown) => {
    // Another instance created it first: fine if it matches.
    if (await jsm.streams.info(topo.stream).then((info) => info.config.description === streamDescription(topo), () => false)) return;
    throw error;
  });
}

export interface ConsumerSettings {
  ackWaitMs: number;
  maxAckPending: number;
}

/**
 * Deletes and recreates partition `p`'s durable consumer. Done only by the lease holder, at takeover:
 * the fresh consumer redelivers every unacknowledged intent in stream order, instead of leaving some
 * to an ack-wait timer that would let a later intent of the same thread overtake them.
 */
export async function recreateConsumer(jsm: JetStreamManager, topo: Topology, p: number, settings: ConsumerSettings): Promise<void> {
  await jetStreamCall('consumer delete', () => jsm.consumers.delete(topo.stream, consumerOf(p))).catch((error: unknown) => {
    if (!isNotFound(error)) throw error;
  });
  await jetStreamCall('consumer create', () => jsm.consumers.add(topo.stream, {
    durable_name: consumerOf(p),
    filter_subject: subjectOf(topo, p),
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(settings.ackWaitMs),
    max_ack_pending: settings.maxAckPending,
  }));
}

function isNotFound(error: unknown): boolean {
  return /not found/i.test(messageOf(error));
}
