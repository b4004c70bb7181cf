/**
 * Thread events in JetStream mode: they travel through NATS, so the events stream of any instance
 * carries every thread's events, wherever its intents run (see ../service/thread-events.ts).
 *
 *   owner of partition p ── core NATS publish, one message per task's events ──► LANEPOOL.events.<p>
 *   every instance ◄── ordered consumer of LANEPOOL_events, from where it started ── ids from the sequence
 *
 * Batches. A partition's events appended during one task (a worker's batch of settlements, with
 * their provider events) leave as one message, `{ events: [...] }`: a turn's three or so events
 * cost one store and one delivery instead of three of each.
 *
 * Ids. An event's id is its message's sequence in the events stream times `EVENTS_PER_MESSAGE`,
 * plus its place in the message. The server assigns sequences in the order it stores messages, so
 * ids increase across all threads, so per thread, whichever instance ran the intent, and across
 * takeovers and restarts of instances (the stream keeps its sequence on disk). No instance
 * coordinates with another to pick one, and every instance computes the same id for an event.
 *
 * Order. The owner publishes a thread's events on one connection in the order the dispatcher hands
 * them over (a run's provider events, then its settlement: dispatcher.ts), and one connection's
 * messages are stored in the order sent, so the stream holds them in that order. On a takeover the
 * new owner's events follow the old owner's last ones; an old owner that lost its lease publishes
 * nothing more (the fence is checked at each append and again at each publish), but one published
 * just before the lapse may land after the new owner's first.
 *
 * At most once. A publish is not acknowledged: with the NATS server unreachable the events are lost,
 * and nobody can say they were (intent records, not events, are the source of truth). Events the
 * stream removed before this instance read them (past its age or size limit) are noticed as a jump
 * in the sequence and become a `gap` for every thread.
 */
import { DeliverPolicy, DiscardPolicy, RetentionPolicy, StorageType, nanos, type ConsumerMessages, type JetStreamClient, type JetStreamManager, type NatsConnection } from 'nats';
import type { ThreadEvent, ThreadEventSink, ThreadEvents } from '../service/thread-events.ts';
import type { Fence, PartitionLog } from './hold.ts';
import { jetStreamCall } from './nats-errors.ts';
import type { Topology } from './topology.ts';

/** One event as it travels on `<stream>.events.<p>`. */
interface WireEvent {
  threadId: string;
  event: ThreadEvent['event'];
  data: unknown;
}

/** A message on `<stream>.events.<p>`: the events of one task. (A lone `WireEvent` is read as a batch of one.) */
interface WireBatch {
  events: WireEvent[];
}

/** The most events one message carries: ids leave this many numbers per message. */
export const EVENTS_PER_MESSAGE = 1024;

/** The id of the `index`th event of the events stream's message `seq`. */
export function eventId(seq: number, index: number): number {
  return seq * EVENTS_PER_MESSAGE + index;
}

/** Room left in a message for its protocol line and headers. */
const HEADER_ROOM = 1024;

export interface EventStreamLimits {
  /** The stream's max age: `--events-max-age-ms`. */
  maxAgeMs: number;
  /** The stream's max bytes: `--events-max-bytes`. */
  maxBytes: number;
}

export function eventStreamOf(topo: Topology): string {
  return `${topo.stream}_events`;
}

export function eventSubjectOf(topo: Topology, partition: number): string {
  return `${topo.stream}.events.${partition}`;
}

/** Creates the events stream if missing. Limits retention: it only has to outlive the instances' reading. */
export async function ensureEventStream(jsm: JetStreamManager, topo: Topology, limits: EventStreamLimits): Promise<void> {
  const name = eventStreamOf(topo);
  const exists = await jsm.streams.info(name).then(() => true, () => false);
  if (exists) return;
  await jetStreamCall('stream create', () => jsm.streams.add({
    name,
    description: 'lanepool thread events',
    subjects: [`${topo.stream}.events.>`],
    retention: RetentionPolicy.Limits,
    // On disk, so the sequence (the events' ids) survives a restart of the server.
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    max_age: nanos(limits.maxAgeMs),
    max_bytes: limits.maxBytes,
  })).catch(async (error: unknown) => {
    // Another instance created it first.
    if (!(await jsm.streams.info(name).then(() => true, () => false))) throw error;
  });
}

/**
 * The sink of one partition's runs (`RunHooks.events`): gathers the events appended during one task
 * and publishes them as one message at its end, while the partition's lease is held here. A publish
 * that fails (the connection is closed) loses those events, as an unreachable server does (see "At
 * most once" above); one event alone over max_payload is lost by itself.
 */
export function partitionEventSink(nc: NatsConnection, topo: Topology, partition: number, fence: Fence): ThreadEventSink {
  const subject = eventSubjectOf(topo, partition);
  // Invariant: a flush is queued whenever `batch` is not empty, so nothing appended waits past the
  // end of the current task.
  let batch: WireEvent[] = [];
  const flush = (): void => {
    const events = batch;
    batch = [];
    if (events.length > 0 && fence.holds()) publishEvents(nc, subject, events);
  };
  return {
    append(threadId, event) {
      if (!fence.holds()) return;
      if (batch.length === 0) queueMicrotask(flush);
      batch.push({ threadId, event: event.event, data: event.data });
      if (batch.length === EVENTS_PER_MESSAGE) flush();
    },
  };
}

/** Publishes `events` as one message, or as several if one would be over the server's max_payload. */
function publishEvents(nc: NatsConnection, subject: string, events: WireEvent[]): void {
  const text = JSON.stringify({ events } satisfies WireBatch);
  const room = (nc.info?.max_payload ?? Infinity) - HEADER_ROOM;
  if (events.length > 1 && text.length * 3 > room && Buffer.byteLength(text) > room) {
    const half = Math.ceil(events.length / 2);
    publishEvents(nc, subject, events.slice(0, half));
    publishEvents(nc, subject, events.slice(half));
    return;
  }
  try {
    nc.publish(subject, text);
  } catch {
    // Lost: see "At most once" above.
  }
}

/** Reads every thread's events from the events stream into this instance's buffers. */
export class EventFeed {
  readonly #messages: ConsumerMessages;

  private constructor(messages: ConsumerMessages) {
    this.#messages = messages;
  }

  /**
   * Starts reading after the stream's last event. Buffers vouch only for what comes after it: a
   * client resuming from an earlier id gets a gap (see thread-events.ts).
   */
  static async start(js: JetStreamClient, jsm: JetStreamManager, topo: Topology, events: ThreadEvents, log: PartitionLog): Promise<EventFeed> {
    const stream = eventStreamOf(topo);
    const last = (await jetStreamCall('stream info', () => jsm.streams.info(stream))).state.last_seq;
    events.lostThrough(eventId(last, EVENTS_PER_MESSAGE - 1));
    const consumer = await jetStreamCall('consumer create', () => js.consumers.get(stream, { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: last + 1 }));
    let expected = last + 1;
    const messages = await jetStreamCall('consume', () => consumer.consume({
      callback: (msg) => {
        // Removed by the stream's limits before we read them: nobody can say whose they were.
        if (msg.seq > expected) events.lostThrough(eventId(msg.seq - 1, EVENTS_PER_MESSAGE - 1));
        expected = msg.seq + 1;
        let wire: Partial<WireBatch> & Partial<WireEvent>;
        try {
          wire = msg.json<Partial<WireBatch> & Partial<WireEvent>>();
        } catch {
          log.warn({ seq: msg.seq }, 'not a thread event: ignored');
          return;
        }
        const batch: unknown[] = Array.isArray(wire?.events) ? wire.events.slice(0, EVENTS_PER_MESSAGE) : [wire];
        batch.forEach((one, index) => {
          const event = one as Partial<WireEvent> | null;
          if (typeof event?.threadId !== 'string' || (event.event !== 'provider' && event.event !== 'intent')) return;
          events.add(eventId(msg.seq, index), event.threadId, { event: event.event, data: event.data } as ThreadEvent);
        });
      },
    }));
    return new EventFeed(messages);
  }

  stop(): void {
    this.#messages.stop();
  }
}
