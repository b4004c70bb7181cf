/**
 * The service's JetStream mode (`lanepool serve --nats URL`): the HTTP front publishes intents to a
 * partitioned stream, and this instance consumes the partitions it holds leases for, running their
 * intents through its own pool as the in-memory mode does. It is the service's JetStream intent
 * backend (see ../service/intent-backend.ts). See topology.ts for what lives on the server,
 * coordinator.ts for ownership and partition.ts for the life of one intent.
 */
import { hostname } from 'node:os';
import { connect, type JetStreamClient, type NatsConnection } from 'nats';
import { InvalidIntentError, JetStreamError } from '../../shared/errors.ts';
import { within } from '../../shared/within.ts';
import type { Dispatcher } from '../service/dispatcher.ts';
import type { IntentBackend, Submission, SubmitResult } from '../service/intent-backend.ts';
import type { IntentRecord } from '../service/records.ts';
import type { Subscriber, ThreadEvents } from '../service/thread-events.ts';
import { Coordinator } from './coordinator.ts';
import { EventFeed, ensureEventStream, partitionEventSink, type EventStreamLimits } from './event-feed.ts';
import { IntentStore } from './intent-store.ts';
import { Leases } from './leases.ts';
import { jetStreamCall } from './nats-errors.ts';
import type { PartitionCounters, PartitionLog } from './hold.ts';
import { publishWith } from './publisher.ts';
import { ensureStream, partitionOf, topology, type Topology } from './topology.ts';

export interface JetStreamSettings {
  url: string;
  stream: string;
  partitions: number;
  /** `--partitions`: consume exactly these; undefined shares the partitions among live instances. */
  fixed: number[] | undefined;
  instanceId: string;
  leaseTtlMs: number;
  ackWaitMs: number;
  maxAckPending: number;
  handoffTimeoutMs: number;
  /** How long intent records (status, results, the completed-intent check) are kept. */
  retentionMs: number;
  /** The thread events stream's limits (event-feed.ts). */
  events: EventStreamLimits;
}

export interface JetStreamParts {
  dispatcher: Dispatcher;
  /** This instance's thread event buffers: the feed fills them from NATS, `subscribe` reads them. */
  events: ThreadEvents;
  shardOf(threadId: string): number;
  log: PartitionLog & { error(data: object, message: string): void };
}

/** A default instance id: host, pid and a random suffix, as a KV-key-safe token. */
export function defaultInstanceId(): string {
  const host = hostname().replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 40) || 'host';
  return `${host}-${process.pid}-${Math.random().toString(36).slice(2, 6)}`;
}

export class JetStreamMode implements IntentBackend {
  readonly settings: JetStreamSettings;
  /** Shared with every partition, which counts into it. */
  readonly counters: PartitionCounters;
  readonly #nc: NatsConnection;
  readonly #topo: Topology;
  readonly #store: IntentStore;
  readonly #leases: Leases;
  readonly #coordinator: Coordinator;
  readonly #log: JetStreamParts['log'];
  readonly #events: ThreadEvents;
  readonly #feed: EventFeed;
  /** Fires at stop, ending every `whenSettled` wait. */
  readonly #stopping = new AbortController();
  /** Follows the client's status events: `nc.info` keeps the last server's info while reconnecting. */
  #connected = true;

  private constructor(parts: {
    settings: JetStreamSettings; nc: NatsConnection; topo: Topology; store: IntentStore; leases: Leases;
    coordinator: Coordinator; counters: PartitionCounters; log: JetStreamParts['log']; events: ThreadEvents; feed: EventFeed;
  }) {
    this.settings = parts.settings;
    this.counters = parts.counters;
    this.#nc = parts.nc;
    this.#topo = parts.topo;
    this.#store = parts.store;
    this.#leases = parts.leases;
    this.#coordinator = parts.coordinator;
    this.#log = parts.log;
    this.#events = parts.events;
    this.#feed = parts.feed;
    void this.#followStatus();
  }

  async #followStatus(): Promise<void> {
    for await (const status of this.#nc.status()) {
      if (status.type === 'disconnect') this.#connected = false;
      if (status.type === 'reconnect') this.#connected = true;
    }
    this.#connected = false;
  }

  /** Connects, creates the stream and buckets if needed, and starts taking partitions. */
  static async start(settings: JetStreamSettings, parts: JetStreamParts): Promise<JetStreamMode> {
    const topo = topology(settings.stream, settings.partitions);
    const nc = await jetStreamCall('connect', () => connect({
      servers: settings.url, name: `lanepool ${settings.instanceId}`, maxReconnectAttempts: -1, reconnectTimeWait: 250,
      // Without this the client captures a stack trace for every request and every timeout it arms.
      // Record writes and intent publishes no longer use requests (pub-acks.ts); reads, lease
      // renewals and consumer calls still do.
      noAsyncTraces: true,
    }));
    try {
      const jsm = await jetStreamCall('connect', () => nc.jetstreamManager());
      const js: JetStreamClient = nc.jetstream();
      await ensureStream(jsm, topo);
      await ensureEventStream(jsm, topo, settings.events);
      // Reading before consuming any partition, so this instance's own first events reach its buffers too.
      const feed = await EventFeed.start(js, jsm, topo, parts.events, parts.log);
      const store = await IntentStore.open(nc, topo, settings.retentionMs, parts.log);
      const leases = await Leases.open(js, topo, settings.leaseTtlMs, settings.instanceId);
      const counters: PartitionCounters = { skipped: 0, rerun: 0, poison: 0, staleRefused: 0 };
      const coordinator = new Coordinator({
        leases,
        partitions: topo.partitions,
        fixed: settings.fixed,
        leaseTtlMs: settings.leaseTtlMs,
        handoffTimeoutMs: settings.handoffTimeoutMs,
        log: parts.log,
        deps: {
          js, jsm, topo, store, counters, log: parts.log,
          settings: { ackWaitMs: settings.ackWaitMs, maxAckPending: settings.maxAckPending },
          dispatcher: parts.dispatcher,
          instance: settings.instanceId,
          shardOf: parts.shardOf,
          eventSink: (p, fence) => partitionEventSink(nc, topo, p, fence),
        },
      });
      await coordinator.ready();
      return new JetStreamMode({ settings, nc, topo, store, leases, coordinator, counters, log: parts.log, events: parts.events, feed });
    } catch (error) {
      await nc.close().catch(() => {});
      throw error;
    }
  }

  /**
   * Publishes an intent for any thread, whoever owns its partition: accepted once it is stored in the
   * stream. Refused if JetStream cannot be reached, or the intent is over the server's max_payload.
   */
  async submit(threadId: string, submission: Submission): Promise<SubmitResult> {
    try {
      // The route has validated the intent against the same schemas `publishWith` would check.
      return await publishWith(this.#nc, this.#topo, this.#store, { threadId, ...submission }, true);
    } catch (error) {
      if (error instanceof JetStreamError || (error instanceof InvalidIntentError && error.tooLarge)) return { kind: 'refused', error };
      throw error;
    }
  }

  get(intentId: string): Promise<IntentRecord | undefined> {
    return this.#store.get(intentId);
  }

  whenSettled(record: IntentRecord, signal: AbortSignal): Promise<IntentRecord | undefined> {
    return this.#store.whenSettled(record.intentId, AbortSignal.any([signal, this.#stopping.signal]));
  }

  /** Every thread's events, wherever its intents run: the feed brings them from the events stream. */
  subscribe(threadId: string, subscriber: Subscriber, sinceId?: number): () => void {
    return this.#events.subscribe(threadId, subscriber, sinceId);
  }

  /** The session lives on the instance that owns the thread's partition. */
  async placement(threadId: string): Promise<Record<string, unknown>> {
    const partition = partitionOf(this.#topo, threadId);
    const owner = (await this.#leases.owner(partition).catch(() => undefined)) ?? null;
    return { partition, owner, instance: this.settings.instanceId };
  }

  /** For the operator console: this instance and the partitions it consumes. */
  overview(): { instance: string; connected: boolean; partitions: number[] } {
    return { instance: this.settings.instanceId, connected: this.connected, partitions: this.owned() };
  }

  health(): { healthy: boolean; detail: Record<string, unknown> } {
    const connected = this.connected;
    return { healthy: connected, detail: { jetstream: { connected, partitions: this.owned() } } };
  }

  /** Partitions consumed here right now. */
  owned(): number[] {
    return this.#coordinator.owned();
  }

  /** Unacknowledged intents held by this instance. */
  inflight(): number {
    return this.#coordinator.inflight();
  }

  get connected(): boolean {
    return this.#connected && !this.#nc.isClosed();
  }

  /** Partitions taken since start, and leases given up because they could not be kept. */
  get leaseCounts(): { takeovers: number; lost: number } {
    return { takeovers: this.#coordinator.takeovers, lost: this.#coordinator.lost };
  }

  /**
   * Hands every partition over (draining each for up to `graceMs`) and closes the connection.
   * Bounded: with the server unreachable, settled records cannot be written nor leases deleted, so
   * each step gives up after its bound (a lease TTL to stop taking partitions, then `graceMs` plus
   * a lease TTL to hand them over) and the connection is closed anyway; what is unacknowledged
   * then runs again on the next owner.
   */
  async stop(graceMs: number): Promise<void> {
    const ttl = this.settings.leaseTtlMs;
    const onTime = (await within(this.#coordinator.quiesce(), ttl)) && (await within(this.#coordinator.handOverAll(graceMs), graceMs + ttl));
    this.#stopping.abort();
    this.#feed.stop();
    if (onTime) {
      await this.#nc.drain().catch(() => {});
      return;
    }
    this.#coordinator.halt();
    this.#log.warn({ graceMs, leaseTtlMs: ttl }, 'could not hand the partitions over in time (NATS unreachable?); closing anyway');
    await this.#nc.close().catch(() => {});
  }
}
