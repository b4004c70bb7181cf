/**
 * What the JetStream mode keeps on the NATS server, and how it is named. One name (`--nats-stream`,
 * default `LANEPOOL`) derives everything, so several deployments can share one server:
 *
 *   stream   LANEPOOL               subjects LANEPOOL.intents.<partition>.<intent key>, work-queue retention
 *   consumer LANEPOOL / p<N>-<lease> durable pull consumer of one hold, filter LANEPOOL.intents.<N>.>
 *   KV       LANEPOOL_leases        p.<N> -> owner lease, m.<instance> -> membership (TTL = lease TTL)
 *   KV       LANEPOOL_intents       <intentId> -> intent status and result (TTL = record retention)
 *
 * A thread's partition is `shardFor(threadId, partitions)`: the FNV-1a + jump hash of shard routing.
 *
 * Why a subject per intent: nats-server 2.9 keeps, per subject, the sequence of its first and last
 * message, and after acknowledgements out of order (a subject's last message, then its first, with
 * one left between) the pair skips the one left, so a consumer created afterwards never delivers it
 * (stream-layout.test.ts shows it). Every partition's intents shared one subject and its lanes ack
 * out of order, so a takeover lost intents. With one message per subject the pair is always exact.
 *
 * Why a consumer per hold: an ack names the consumer and the stream sequence, and the server applies
 * it to whatever consumer has that name now, deleting the message from the work queue even if that
 * consumer never delivered it. A paused owner's late ack (or pull) must not reach the next owner's
 * consumer, so each hold's consumer is named for its lease revision and the old one is deleted.
 */
import { createHash } from 'node:crypto';
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

/** The subject intent `intentId` is published on: its own, inside its partition's (see above). */
export function subjectOf(topo: Topology, partition: number, intentId: string): string {
  // A subject token cannot hold '.', '*', '>' or spaces, which an intentId may; 96 bits of a hash
  // keep two intents from sharing a subject (and if they ever did, only those two would be exposed).
  const key = createHash('sha256').update(intentId).digest('base64url').slice(0, 16);
  return `${topo.stream}.intents.${partition}.${key}`;
}

/** The filter of partition `partition`'s consumer: every intent published to it. */
export function filterOf(topo: Topology, partition: number): string {
  return `${topo.stream}.intents.${partition}.>`;
}

/** The consumer of the hold of `partition` that began at lease revision `lease` (see above). */
export function consumerOf(partition: number, lease: number): string {
  return `p${partition}-${lease}`;
}

function streamSubject(topo: Topology): string {
  return `${topo.stream}.intents.>`;
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
    if (existing.config.subjects.join() !== streamSubject(topo)) {
      // Made before intents had a subject each: widened in place so both layouts are stored.
      await jetStreamCall('stream update', () => jsm.streams.update(topo.stream, { ...existing.config, subjects: [streamSubject(topo)] }));
    }
    return;
  }
  await jetStreamCall('stream create', () => jsm.streams.add({
    name: topo.stream,
    description: streamDescription(topo),
    subjects: [streamSubject(topo)],
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
 * Replaces partition `p`'s consumer with one of its own for the hold that began at lease revision
 * `lease`, and returns its name. Done only by the lease holder, at takeover: every earlier consumer
 * of the partition (of any name) is deleted first (a work-queue stream allows one per subject), so
 * nothing an earlier hold sends can reach the new one, and the fresh consumer redelivers every
 * unacknowledged intent in stream order, instead of leaving some to an ack-wait timer that would
 * let a later intent of the same thread overtake them.
 */
export async function recreateConsumer(jsm: JetStreamManager, topo: Topology, p: number, settings: ConsumerSettings, lease: number): Promise<string> {
  // The filter before intents had a subject each, so a consumer made then is deleted too.
  const filters = new Set([filterOf(topo, p), `${topo.stream}.intents.${p}`]);
  const earlier = await jetStreamCall('consumer list', async () => {
    const names: string[] = [];
    for await (const info of jsm.consumers.list(topo.stream)) if (filters.has(info.config.filter_subject ?? '')) names.push(info.name);
    return names;
  });
  for (const name of earlier) {
    await jetStreamCall('consumer delete', () => jsm.consumers.delete(topo.stream, name)).catch((error: unknown) => {
      if (!isNotFound(error)) throw error;
    });
  }
  const name = consumerOf(p, lease);
  await jetStreamCall('consumer create', () => jsm.consumers.add(topo.stream, {
    durable_name: name,
    filter_subject: filterOf(topo, p),
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(settings.ackWaitMs),
    max_ack_pending: settings.maxAckPending,
  }));
  return name;
}

function isNotFound(error: unknown): boolean {
  return /not found/i.test(messageOf(error));
}
