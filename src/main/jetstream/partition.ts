/**
 * One partition this instance holds the lease for: its consumer, and every intent of it from
 * delivery to acknowledgement.
 *
 *   deliver ─► (replay? look the record up) ─► in delivery order ─► dispatcher ─► thread's lane
 *   settled ─► record written ─► ack                 in progress ─► `working()` every ackWait/3
 *
 * Invariants:
 * - Intents reach the dispatcher in stream order, so each thread's lane gets them in order, even
 *   while some wait on a record lookup (`#pipeline` holds everything behind such a lookup).
 * - An intent is acknowledged only after its settled record is written, so a replay of an intent
 *   that had settled finds the record and is skipped instead of running again.
 * - A replay is any intent this consumer may have seen before: redelivered, or stored before the
 *   consumer was recreated at takeover. Only replays pay for the lookup.
 * - A hung thread holds only its own lane and its intents' ack-pending slots; the partition keeps
 *   flowing until `maxAckPending` unacknowledged intents pile up, which is the backpressure.
 */
import type { ConsumerMessages, JetStreamClient, JetStreamManager, JsMsg } from 'nats';
import type { Dispatcher } from '../service/dispatcher.ts';
import type { IntentRecord } from '../service/records.ts';
import { isFinal, type IntentStore, type StoredIntent } from './intent-store.ts';
import type { StreamedIntent } from './publisher.ts';
import { checkStreamedIntent } from './publisher.ts';
import { consumerOf, recreateConsumer, type ConsumerSettings, type Topology } from './topology.ts';

export interface PartitionLog {
  info(data: object, message: string): void;
  warn(data: object, message: string): void;
}

/** Counters shared by every partition of an instance, for /metrics and tests. */
export interface PartitionCounters {
  /** Replayed intents skipped because their record was already settled. */
  skipped: number;
  /** Intents that ran again after an earlier run was cut short (attempt > 1). */
  rerun: number;
  /** Messages that were not intents at all, terminated. */
  poison: number;
}

export interface PartitionDeps {
  js: JetStreamClient;
  jsm: JetStreamManager;
  topo: Topology;
  settings: ConsumerSettings;
  dispatcher: Dispatcher;
  store: IntentStore;
  instance: string;
  shardOf(threadId: string): number;
  log: PartitionLog;
  counters: PartitionCounters;
  /** The consumer stopped by itself (or delivery failed): the partition must be released and taken again. */
  onBroken(error: unknown): void;
}

type State = 'starting' | 'consuming' | 'releasing' | 'stopped';

interface InFlight {
  /** The newest delivery of the intent: acks and in-progress acks go to it. */
  msg: JsMsg;
  readonly body: StreamedIntent;
  /** When it was submitted: the record's `submittedAt` if a replay looked it up, else when the stream stored it (just after the front created the record). */
  readonly storedAt: string;
  readonly attempt: number;
  /** Cancels this intent without settling it, leaving it unacknowledged for the next owner. */
  readonly handOff: AbortController;
  started: boolean;
  /** Writes of this intent's record, one after another, so `settled` never lands before `running`. */
  writes: Promise<void>;
}

interface Waiting {
  msg: JsMsg;
  body: StreamedIntent;
  lookup: Promise<StoredIntent | undefined>;
}

const RETRY_MS = [100, 200, 500, 1000, 2000];

export class OwnedPartition {
  readonly p: number;
  readonly #deps: PartitionDeps;
  #state: State = 'starting';
  /** Fires once the partition is given up; record writes of unsettled intents stop retrying. */
  readonly #abort = new AbortController();
  #messages: ConsumerMessages | undefined;
  #working: NodeJS.Timeout | undefined;
  /** Stream sequences up to this one may have been delivered before the consumer was recreated. */
  #replayUntil = 0;
  readonly #inflight = new Map<string, InFlight>();
  readonly #pipeline: Waiting[] = [];
  #pumping = false;
  #onEmpty: (() => void) | undefined;
  /** While releasing: ends the wait for running intents early (a lost lease cannot wait). */
  #cutShort: (() => void) | undefined;
  /** Set by `abandon`: the connection is going away, so nothing more is retried. */
  #abandoned = false;

  constructor(p: number, deps: PartitionDeps) {
    this.p = p;
    this.#deps = deps;
  }

  get state(): State {
    return this.#state;
  }

  /** Intents delivered here and not yet acknowledged. */
  get inflight(): number {
    return this.#inflight.size + this.#pipeline.length;
  }

  /**
   * Recreates the consumer (see topology.ts) and starts consuming: true once consuming, false if
   * the partition was released meanwhile (then nothing was consumed).
   */
  async start(): Promise<boolean> {
    const { js, jsm, topo, settings } = this.#deps;
    await recreateConsumer(jsm, topo, this.p, settings);
    this.#replayUntil = (await jsm.streams.info(topo.stream)).state.last_seq;
    if (this.#state !== 'starting') return false;
    const consumer = await js.consumers.get(topo.stream, consumerOf(this.p));
    if (this.#state !== 'starting') return false;
    const messages = await consumer.consume({ max_messages: Math.min(256, settings.maxAckPending), callback: (msg) => this.#safely(() => this.#deliver(msg)) });
    if (this.#state !== 'starting') {
      // Released while the consume request was under way: `#deliver` ignores what it may bring.
      messages.stop();
      return false;
    }
    this.#messages = messages;
    this.#state = 'consuming';
    // The client stops a consumer whose callback threw, or that it cannot keep alive; unless we
    // stopped it, the partition is held but not consumed, so it must be handed back.
    void this.#messages.closed().then((error) => {
      if (this.#state === 'consuming') this.#deps.onBroken(error ?? new Error('the consumer stopped'));
    });
    // A consumer deleted under us (by an operator, or by an instance that took the lease while we
    // were cut off) is retried by the client forever without delivering anything.
    void this.#watchConsumer(this.#messages);
    this.#working = setInterval(() => this.#keepAlive(), Math.max(100, Math.floor(settings.ackWaitMs / 3)));
    this.#working.unref();
    return true;
  }

  async #watchConsumer(messages: ConsumerMessages): Promise<void> {
    try {
      for await (const status of await messages.status()) {
        if (status.type === 'consumer_deleted' || status.type === 'consumer_not_found' || status.type === 'stream_not_found') {
          if (this.#state === 'consuming') this.#deps.onBroken(new Error(`the partition's consumer is gone (${status.type})`));
          return;
        }
      }
    } catch {
      // The status stream ends with the consumer; closed() reports that.
    }
  }

  /**
   * Hands the partition over: stops taking deliveries, lets what runs here finish for up to
   * `timeoutMs`, then cancels the rest without acknowledging it, so the next owner runs it.
   */
  async release(timeoutMs: number): Promise<void> {
    if (this.#state === 'stopped' || this.#state === 'releasing') {
      if (timeoutMs === 0) this.#cutShort?.();
      return this.#whenEmpty();
    }
    this.#state = 'releasing';
    this.#messages?.stop();
    this.#pipeline.length = 0;
    // Intents still queued in their lanes cost nothing to hand over: the next owner runs them as
    // first attempts. Only running ones are worth waiting for (up to timeoutMs), to avoid a rerun.
    for (const item of this.#inflight.values()) if (!item.started) item.handOff.abort();
    if (this.#inflight.size > 0 && timeoutMs > 0) {
      await Promise.race([this.#whenEmpty(), new Promise<void>((resolve) => {
        setTimeout(resolve, timeoutMs).unref();
        this.#cutShort = resolve;
      })]);
      this.#cutShort = undefined;
    }
    this.#abort.abort(new Error('partition handed over'));
    for (const item of this.#inflight.values()) item.handOff.abort();
    await this.#whenEmpty();
    clearInterval(this.#working);
    this.#state = 'stopped';
  }

  /** Runs a step of delivery; a throw would stop the consumer silently, so it hands the partition back instead. */
  #safely(step: () => void): void {
    try {
      step();
    } catch (error) {
      this.#deps.onBroken(error);
    }
  }

  /**
   * For a shutdown that ran out of time: cancels everything at once and stops retrying record
   * writes. What is unacknowledged runs again on the next owner.
   */
  abandon(): void {
    this.#abandoned = true;
    this.#abort.abort(new Error('partition abandoned'));
    void this.release(0);
    for (const item of this.#inflight.values()) item.handOff.abort();
  }

  #deliver(msg: JsMsg): void {
    if (this.#state !== 'consuming') return; // not acknowledged: the next owner's consumer redelivers it
    let body: StreamedIntent;
    try {
      body = msg.json<unknown>() as StreamedIntent;
      checkStreamedIntent(body);
    } catch (error) {
      this.#deps.counters.poison++;
      this.#deps.log.warn({ partition: this.p, seq: msg.seq, err: error }, 'not an intent: terminated');
      term(msg);
      return;
    }
    const replay = msg.redelivered || msg.seq <= this.#replayUntil;
    if (!replay && this.#pipeline.length === 0) {
      this.#admit(msg, body, undefined);
      return;
    }
    this.#pipeline.push({ msg, body, lookup: replay ? this.#lookup(body.intentId) : Promise.resolve(undefined) });
    this.#pump().catch((error: unknown) => this.#deps.onBroken(error));
  }

  /** Admits waiting intents strictly in delivery order, each once its lookup is done. */
  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (this.#pipeline.length > 0 && this.#state === 'consuming') {
        const head = this.#pipeline[0]!;
        const stored = await head.lookup;
        if (this.#pipeline[0] !== head) continue; // cleared by release meanwhile
        this.#pipeline.shift();
        this.#admit(head.msg, head.body, stored);
      }
    } finally {
      this.#pumping = false;
    }
    this.#checkEmpty();
  }

  #admit(msg: JsMsg, body: StreamedIntent, stored: StoredIntent | undefined): void {
    if (this.#state !== 'consuming') return;
    if (stored !== undefined && isFinal(stored.status)) {
      this.#deps.counters.skipped++;
      ack(msg);
      return;
    }
    const own = this.#inflight.get(body.intentId);
    if (own !== undefined) {
      own.msg = msg; // a redelivery of what already runs here
      return;
    }
    const attempt = stored?.status === 'running' ? stored.attempt + 1 : 1;
    if (attempt > 1) this.#deps.counters.rerun++;
    const storedAt = stored?.submittedAt ?? new Date(Math.floor(msg.info.timestampNanos / 1e6)).toISOString();
    const item: InFlight = { msg, body, storedAt, attempt, handOff: new AbortController(), started: false, writes: Promise.resolve() };
    this.#inflight.set(body.intentId, item);
    let result: ReturnType<Dispatcher['submit']>;
    try {
      result = this.#deps.dispatcher.submit(body.threadId, { type: body.type, payload: body.payload, intentId: body.intentId }, {
        attempt,
        signal: item.handOff.signal,
        onStart: (record) => {
          item.started = true;
          return this.#write(item, record);
        },
        keep: (_record, outcome) => {
          if (!(item.handOff.signal.aborted && outcome.status === 'cancelled')) return true;
          // Cancelled because the partition was handed over: unacknowledged, so the next owner runs it.
          // Dropped only once its `running` write is done (or given up), so no write of ours can land
          // after the next owner's.
          void item.writes.then(() => this.#drop(item));
          return false;
        },
        onSettled: (record) => this.#finish(item, record),
      });
    } catch (error) {
      this.#drop(item);
      throw error;
    }
    switch (result.kind) {
      case 'accepted':
        return;
      case 'duplicate':
        if (isFinal(result.record.status)) {
          // Settled here before, but the record write or the ack did not get through: finish it again.
          this.#finish(item, result.record);
        } else {
          // Cannot happen: a released hold forgets the intents it handed off before the partition
          // can be taken again. Left unacknowledged, it is redelivered after the ack wait.
          this.#deps.log.warn({ partition: this.p, intentId: body.intentId }, 'intent already running here under an earlier hold: left for redelivery');
          this.#drop(item);
        }
        return;
      case 'conflict':
        // The intentId was used here for another thread or type: a publisher bypassed the record check.
        this.#deps.counters.poison++;
        this.#deps.log.warn({ partition: this.p, intentId: body.intentId }, 'intentId reused for another thread or type: terminated');
        this.#drop(item);
        term(msg);
        return;
      case 'refused': {
        // The pool cannot take it (closed, or its handler does not load). It was accepted already,
        // so it fails visibly instead of waiting forever.
        const { code, message } = result.error;
        const now = new Date().toISOString();
        this.#finish(item, {
          intentId: body.intentId, threadId: body.threadId, type: body.type, shard: this.#deps.shardOf(body.threadId),
          status: 'failed', submittedAt: storedAt, settledAt: now, attempt,
          error: { code: code ?? 'ERR_INTERNAL', message },
        });
      }
    }
  }

  /** Writes the record (retrying while JetStream is unreachable), after this intent's earlier writes. */
  #write(item: InFlight, record: IntentRecord): Promise<void> {
    const stored: StoredIntent = {
      intentId: record.intentId, threadId: record.threadId, type: record.type, partition: this.p, status: record.status,
      submittedAt: item.storedAt, attempt: item.attempt, instance: this.#deps.instance, shard: record.shard,
      ...(record.startedAt ? { startedAt: record.startedAt } : {}),
      ...(record.settledAt ? { settledAt: record.settledAt } : {}),
      ...(record.result !== undefined ? { result: record.result } : {}),
      ...(record.error ? { error: record.error } : {}),
    };
    item.writes = item.writes.then(async () => {
      for (let i = 0; ; i++) {
        try {
          return await this.#deps.store.put(stored);
        } catch (error) {
          if (this.#abandoned || (this.#abort.signal.aborted && !isFinal(stored.status))) return;
          this.#deps.log.warn({ partition: this.p, intentId: stored.intentId, err: error }, 'could not write the intent record; retrying');
          await new Promise((resolve) => setTimeout(resolve, RETRY_MS[Math.min(i, RETRY_MS.length - 1)]));
        }
      }
    });
    return item.writes;
  }

  /** Settled: write the final record, then acknowledge, so a replay finds the record first. */
  #finish(item: InFlight, record: IntentRecord): void {
    void this.#write(item, record).then(() => {
      ack(item.msg);
      this.#drop(item);
    });
  }

  #drop(item: InFlight): void {
    if (this.#inflight.get(item.body.intentId) === item) this.#inflight.delete(item.body.intentId);
    this.#checkEmpty();
  }

  /** Looks up a replayed intent's record, retrying while JetStream is unreachable. */
  async #lookup(intentId: string): Promise<StoredIntent | undefined> {
    for (let i = 0; this.#state === 'consuming'; i++) {
      try {
        return await this.#deps.store.get(intentId);
      } catch {
        await new Promise((resolve) => setTimeout(resolve, RETRY_MS[Math.min(i, RETRY_MS.length - 1)]));
      }
    }
    return undefined;
  }

  /** In-progress acks for every unacknowledged delivery, so none is redelivered while it waits or runs. */
  #keepAlive(): void {
    try {
      for (const item of this.#inflight.values()) item.msg.working();
      for (const waiting of this.#pipeline) waiting.msg.working();
    } catch {
      // The connection is closed; reconnection or the next owner takes it from here.
    }
  }

  #whenEmpty(): Promise<void> {
    if (this.inflight === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const previous = this.#onEmpty;
      this.#onEmpty = () => {
        previous?.();
        resolve();
      };
    });
  }

  #checkEmpty(): void {
    if (this.inflight > 0 || this.#onEmpty === undefined) return;
    const notify = this.#onEmpty;
    this.#onEmpty = undefined;
    notify();
  }
}

/**
 * Acknowledges; on a closed connection the ack is lost, which is safe (the intent's record is
 * settled, so its redelivery is skipped) and must not stop the caller from forgetting it.
 */
function ack(msg: JsMsg): void {
  try {
    msg.ack();
  } catch {
    // See above.
  }
}

/** Terminates: never redelivered. Without a reason, which nats-server before 2.10.4 does not parse as a term. */
function term(msg: JsMsg): void {
  try {
    msg.term();
  } catch {
    // Redelivered to whoever owns the partition, and terminated there.
  }
}
