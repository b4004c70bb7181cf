/**
 * Publishing an intent into the JetStream mode's stream: what the HTTP front does for every
 * `POST /v1/threads/:threadId/intents`, exported for programs that publish directly.
 *
 * @example
 * import { connect } from 'nats';
 * import { intentPublisher } from 'lanepool/jetstream';
 * const nc = await connect({ servers: 'nats://127.0.0.1:4222' });
 * const publish = await intentPublisher(nc);
 * const { record } = await publish({ threadId: 'thread-42', type: 'thread.turn.start', payload: { input: 'hi' } });
 */
import { randomUUID } from 'node:crypto';
import { Ajv } from 'ajv';
import type { NatsConnection } from 'nats';
import { ConfigError, InvalidIntentError, JetStreamError } from '../../shared/errors.ts';
import { THREAD_ID_PATTERN, submissionSchema, type Intent, type IntentType } from '../../shared/service/intents.ts';
import { reuseOf } from '../service/idempotency.ts';
import { IntentStore, type StoredIntent } from './intent-store.ts';
import { jetStreamCall } from './nats-errors.ts';
import { PubAcks } from './pub-acks.ts';
import { partitionOf, subjectOf, topology, type Topology } from './topology.ts';

/** An intent to publish; `intentId` makes the publish idempotent (a fresh UUID if absent). */
export interface IntentMessage {
  threadId: string;
  type: IntentType;
  payload: Intent['payload'];
  intentId?: string;
}

/** What travels in the stream. */
export interface StreamedIntent {
  intentId: string;
  threadId: string;
  type: IntentType;
  payload: Intent['payload'];
}

export type PublishResult =
  /** Stored in the stream. It runs once, or again with a higher `attempt` if a run was cut short (see the README's limits). */
  | { kind: 'accepted'; record: StoredIntent }
  /** The intentId was already accepted for the same thread and type: nothing new was published. */
  | { kind: 'duplicate'; record: StoredIntent }
  /** The intentId was already used for another thread or type. */
  | { kind: 'conflict'; record: StoredIntent };

export interface IntentPublisherOptions {
  /** The `--nats-stream` name the service instances use. @default 'LANEPOOL' */
  stream?: string;
}

export type PublishIntent = (intent: IntentMessage) => Promise<PublishResult>;

const THREAD_ID = new RegExp(THREAD_ID_PATTERN);
const validateSubmission = new Ajv({ allErrors: false, coerceTypes: false, strict: false }).compile(submissionSchema);

/**
 * The header carrying the revision of the intent's `queued` record, so the consumer can
 * compare-and-set it to `running` without reading it first (see intent-store.ts).
 */
export const RECORD_REVISION_HEADER = 'Lanepool-Record-Revision';

/**
 * Binds to a running deployment's stream and intent bucket (a service instance creates both) and
 * returns a publish function. The partition count is read from the stream, so it always matches the instances'.
 * Its writes are pipelined (pub-acks.ts): `nc` gets one inbox subscription for their acks, shared by
 * every publisher on it, and at most 1,024 writes await their ack at once (more wait their turn).
 * @throws JetStreamError if the stream does not exist or the server is unreachable.
 */
export async function intentPublisher(nc: NatsConnection, options: IntentPublisherOptions = {}): Promise<PublishIntent> {
  const stream = options.stream ?? 'LANEPOOL';
  const jsm = await jetStreamCall('connect', () => nc.jetstreamManager());
  const info = await jetStreamCall('stream info', () => jsm.streams.info(stream));
  const partitions = Number(/partitions=(\d+)/.exec(info.config.description ?? '')?.[1]);
  if (!Number.isInteger(partitions) || partitions < 1) {
    throw new ConfigError({ detail: `stream ${stream} was not made by lanepool (description ${JSON.stringify(info.config.description ?? '')})` });
  }
  const topo = topology(stream, partitions);
  const store = await IntentStore.open(nc, topo, undefined);
  return (intent) => publishWith(nc, topo, store, intent);
}

/**
 * Validates, records `queued`, then publishes with `Nats-Msg-Id` = intentId. Used by the HTTP front
 * too, with `checked` set: its route has validated the intent against the same schemas already.
 */
export async function publishWith(nc: NatsConnection, topo: Topology, store: IntentStore, intent: IntentMessage, checked = false): Promise<PublishResult> {
  if (!checked) checkIntent(intent);
  const intentId = intent.intentId ?? randomUUID();
  const partition = partitionOf(topo, intent.threadId);
  const record: StoredIntent = {
    intentId, threadId: intent.threadId, type: intent.type, partition, status: 'queued', submittedAt: new Date().toISOString(), attempt: 0,
  };
  const body: StreamedIntent = { intentId, threadId: intent.threadId, type: intent.type, payload: intent.payload };
  const text = JSON.stringify(body);
  checkSize(nc, text);
  const created = await store.create(record);
  if (!created.created) {
    // The record vanished between the two calls (it expired): treat the id as new again.
    if (created.existing === undefined) return publishWith(nc, topo, store, { ...intent, intentId }, true);
    const { record: existing, revision } = created.existing;
    if (reuseOf(existing, intent.threadId, intent.type) === 'conflict') return { kind: 'conflict', record: existing };
    // Still queued: its publish may never have been stored (the publisher died between the two
    // steps, or the publish and the delete both failed while NATS was down), so publish it again,
    // however old it is. Within the server's duplicate window (2 min) a copy that did land makes
    // this a no-op; after it, a second copy is harmless: the record has moved on by the time the
    // copy is consumed (the first copy runs first, in stream order), the consumer's
    // compare-and-set from this revision fails, and the copy is skipped.
    if (existing.status === 'queued') await publishMessage(nc, topo, body.intentId, text, partition, revision);
    return { kind: 'duplicate', record: existing };
  }
  try {
    await publishMessage(nc, topo, intentId, text, partition, created.revision);
  } catch (error) {
    // Not known to be stored: forget the record so a retry with the same intentId is a fresh
    // submission. (If it was stored after all, the server drops the retry's publish as a duplicate;
    // and if a consumer has already written the record, the conditional delete leaves it.)
    await store.remove(intentId, created.revision).catch(() => {});
    throw error;
  }
  return { kind: 'accepted', record };
}

/** Room left in a message for its headers (Nats-Msg-Id, the record revision and JetStream's own). */
const HEADER_ROOM = 512;

/** A message over the server's max_payload would be refused on every retry: refuse it up front. */
function checkSize(nc: NatsConnection, text: string): void {
  const max = nc.info?.max_payload;
  const bytes = Buffer.byteLength(text);
  if (max !== undefined && bytes > max - HEADER_ROOM) {
    throw new InvalidIntentError({ detail: `it is ${bytes} bytes as JSON, over the ${max - HEADER_ROOM} the NATS server's max_payload (${max}) leaves`, tooLarge: true });
  }
}

/** Publishes an intent's `text` (its `StreamedIntent` as JSON) to its partition's subject. */
async function publishMessage(nc: NatsConnection, topo: Topology, intentId: string, text: string, partition: number, recordRevision: number): Promise<void> {
  // The same headers as `js.publish(…, { msgID, expect: { streamName } })` sets, through the pipelined publishes.
  const ack = await jetStreamCall('publish', () => PubAcks.of(nc).publish(subjectOf(topo, partition, intentId), text, {
    'Nats-Msg-Id': intentId,
    'Nats-Expected-Stream': topo.stream,
    [RECORD_REVISION_HEADER]: String(recordRevision),
  }));
  if (ack.stream !== topo.stream) throw new JetStreamError({ operation: 'publish', detail: `stored in stream ${ack.stream}, not ${topo.stream}` });
}

/** What a consumer accepts from the stream: an intent as the route takes it, with its intentId set. */
export function checkStreamedIntent(message: unknown): asserts message is StreamedIntent {
  checkIntent(message);
  if (message.intentId === undefined) throw new InvalidIntentError({ detail: 'intentId is missing' });
}

/** The same rules as the HTTP route, so a direct publisher cannot put what the service would refuse. */
export function checkIntent(intent: unknown): asserts intent is IntentMessage {
  if (intent === null || typeof intent !== 'object') throw new InvalidIntentError({ detail: 'expected an object { threadId, type, payload, intentId? }' });
  const { threadId, ...submission } = intent as Record<string, unknown>;
  if (typeof threadId !== 'string' || !THREAD_ID.test(threadId)) {
    throw new InvalidIntentError({ detail: `threadId must match ${THREAD_ID_PATTERN}, got ${JSON.stringify(threadId)}` });
  }
  if (!validateSubmission(submission)) {
    const [error] = validateSubmission.errors ?? [];
    throw new InvalidIntentError({ detail: `${error?.instancePath || '/'} ${error?.message ?? 'is invalid'}` });
  }
}
