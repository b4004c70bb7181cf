/**
 * Thread events in JetStream mode: they travel through NATS, so the events stream of any instance
 * carries every thread's events, wherever its intents run (see ../service/thread-events.ts).
 *
 *   owner of partition p ── core NATS publish ──► LANEPOOL.events.<p>  (captured by the stream LANEPOOL_events)
 *   every instance ◄── ordered consumer of LANEPOOL_events, from where it started ── ids = stream sequence
 *
 * Ids. An event's id is its sequence in the events stream, which the server assigns in the order it
 * stores them: increasing across all threads, so per thread, whichever instance ran the intent, and
 * across takeovers and restarts of instances (the stream keeps its sequence on disk). No instance
 * coordinates with another to pick one.
 *
 * Order. The owner publishes a thread's events on one connection in the order the dispatcher hands
 * them over (a run's provider events, then its settlement: dispatcher.ts), and one connection's
 * messages are stored in the order sent, so the stream holds them in that order. On a takeover the
 * new owner's events follow the old owner's last ones; an old owner that lost its lease publishes
 * nothing more (the fence is checked at each publish), but one published just before the lapse may
 * land after the new owner's first.
 *
 * At most once. A publish is not acknowledged: with the NATS server unreachable the event is lost,
 * and nobody can say it was (intent records, not events, are the source of truth). Events the
 * stream removed before this instance read them (past its age or size limit) are noticed as a jump
 * in the sequence and become a `gap` for every thread.
 */
import { DeliverPolicy, DiscardPolicy, RetentionPolicy, StorageType, nanos, type ConsumerMessages, type JetStreamClient, type JetStreamManager, type NatsConnection } from 'nats';
import type { ThreadEvent, ThreadEventSink, ThreadEvents } from '../service/thread-events.ts';
import type { Fence, PartitionLog } from './hold.ts';
import { jetStreamCall } from './nats-errors.ts';
import type { Topology } from './topology.ts';

/** What travels on `<stream>.events.<p>`. */
interface WireEvent {
  threadId: string;
  event: ThreadEvent['event'];
  data: unknown;
}

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
 * The sink of one partition's runs (`RunHooks.events`): publishes while the partition's lease is
 * held here. A publish that fails (the connection is closed, the event is over max_payload) loses
 * that event, as an unreachable server does (see "At most once" above).
 */
export function partitionEventSink(nc: NatsConnection, topo: Topology, partition: number, fence: Fence): ThreadEventSink {
  const subject = eventSubjectOf(topo, partition);
  return {
    append(threadId, event) {
      if (!fence.holds()) return;
      try {
        nc.publish(subject, JSON.stringify({ threadId, event: event.event, data: event.data } satisfies WireEvent));
      } catch {
        // Lost: see above.
      }
    },
  };
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
    events.lostThrough(last);
    const consumer = await jetStreamCall('consumer create', () => js.consumers.get(stream, { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: last + 1 }));
    let expected = last + 1;
    const messages = await jetStreamCall('consume', () => consumer.consume({
      callback: (msg) => {
        // Removed by the stream's limits before we read them: nobody can say whose they were.
        if (msg.seq > expected) events.lostThrough(msg.seq - 1);
        expected = msg.seq + 1;
        let wire: WireEvent;
        try {
          wire = msg.json<WireEvent>();
        } catch {
          log.warn({ seq: msg.seq }, 'not a thread event: ignored');
          return;
        }
        if (typeof wire?.threadId !== 'string' || (wire.event !== 'provider' && wire.event !== 'intent')) return;
        events.add(msg.seq, wire.threadId, { event: wire.event, data: wire.data } as ThreadEvent);
      },
    }));
    return new EventFeed(messages);
  }

  stop(): void {
    this.#messages.stop();
  }
}
