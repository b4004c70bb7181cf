/**
 * One partition this instance holds the lease for: its consumer, and every intent of it from
 * delivery to acknowledgement. Admission in delivery order is delivery-order.ts's job, record
 * writes are record-writer.ts's, and their retries share retry.ts's backoff.
 *
 *   deliver ─► (replay? look the record up) ─► in delivery order ─► dispatcher ─► thread's lane
 *   settled ─► record written ─► ack                 in progress ─► `working()` every ackWait/3
 *
 * Invariants:
 * - Intents reach the dispatcher in stream order, so each thread's lane gets them in order, even
 *   while some wait on a record lookup (`DeliveryOrder` holds everything behind such a lookup).
 * - An intent is acknowledged only after its settled record is written, so a replay of an intent
 *   that had settled finds the record and is skipped instead of running again.
 * - A replay is any intent this consumer may have seen before: redelivered, or stored before the
 *   consumer was recreated at takeover. Only replays pay for the lookup.
 * - A hung thread holds only its own lane and its intents' ack-pending slots; the partition keeps
 *   flowing until `maxAckPending` unacknowledged intents pile up, which is the backpressure.
 * - Fencing: nothing is started, written or acknowledged unless `fence.holds()` says, at that very
 *   moment, that the lease is still ours (a synchronous clock check, so a process that was paused
 *   stops at once on waking, before its late fence timer fires), and every record write is a
 *   compare-and-set on the revision this hold last saw (intent-store.ts). A write that finds the
 *   record moved by someone else is refused and counted; the provider is called only after the
 *   `running` write landed *and* the lease was checked again.
 */
import type { ConsumerMessages, JetStreamClient, JetStreamManager, JsMsg } from 'nats';
import type { Dispatcher } from '../service/dispatcher.ts';
import type { ThreadEventSink } from '../service/thread-events.ts';
import { RECORD_ERRORS, failedOutcome, isSettled, type IntentRecord } from '../service/records.ts';
import { DeliveryOrder, type Known } from './delivery-order.ts';
import type { Fence, PartitionCounters, PartitionLog } from './hold.ts';
import type { IntentStore, Versioned } from './intent-store.ts';
import { RECORD_REVISION_HEADER, checkStreamedIntent, type StreamedIntent } from './publisher.ts';
import { RecordWriter, type RecordState } from './record-writer.ts';
import { backoff } from './retry.ts';
import { recreateConsumer, type ConsumerSettings, type Topology } from './topology.ts';

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
  fence: Fence;
  /** Where the thread events of this hold's runs go (event-feed.ts: published while the fence holds). */
  eventSink(partition: number, fence: Fence): ThreadEventSink;
  /** The consumer stopped by itself (or delivery failed): the partition must be released and taken again. */
  onBroken(error: unknown): void;
}

type State = 'starting' | 'consuming' | 'releasing' | 'stopped';

/**
 * An intent delivered here and not yet acknowledged. Its record state (RecordState): `storedAt` is
 * the record's `submittedAt` if a replay looked it up, else when the stream stored it (just after the
 * front created the record); `handOff` cancels it without settling it, leaving it unacknowledged for
 * the next owner.
 */
interface InFlight extends RecordState {
  /** The newest delivery of the intent: acks and in-progress acks go to it. */
  msg: JsMsg;
  readonly body: StreamedIntent;
  started: boolean;
  /** The start was refused (fenced): the run is cancelled and its outcome forgotten. */
  refused: boolean;
}

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
  readonly #pipeline: DeliveryOrder;
  #onEmpty: (() => void) | undefined;
  /** While releasing: ends the wait for running intents early (a lost lease cannot wait). */
  #cutShort: (() => void) | undefined;
  readonly #writer: RecordWriter;
  readonly #events: ThreadEventSink;

  constructor(p: number, deps: PartitionDeps) {
    this.p = p;
    this.#deps = deps;
    this.#events = deps.eventSink(p, deps.fence);
    this.#pipeline = new DeliveryOrder({
      open: () => this.#state === 'consuming',
      admit: (msg, body, known) => this.#admit(msg, body, known),
      onError: (error) => this.#deps.onBroken(error),
      onIdle: () => this.#checkEmpty(),
    });
    this.#writer = new RecordWriter({
      store: deps.store, fence: deps.fence, partition: p, instance: deps.instance, counters: deps.counters, log: deps.log, released: this.#abort.signal,
    });
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
    const name = await recreateConsumer(jsm, topo, this.p, settings, this.#deps.fence.token);
    this.#replayUntil = (await jsm.streams.info(topo.stream)).state.last_seq;
    if (this.#state !== 'starting') return false;
    const consumer = await js.consumers.get(topo.stream, name);
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
    this.#pipeline.clear();
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
    this.#writer.abandon();
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
    // The front's create revision travels in a header; without it (a publisher that sets none) the
    // record is read first, as for a replay, so the first write still has a revision to compare.
    const revision = Number(msg.headers?.get(RECORD_REVISION_HEADER));
    const fresh: Known | undefined = Number.isSafeInteger(revision) && revision > 0 ? { record: undefined, revision } : undefined;
    const replay = msg.redelivered || msg.seq <= this.#replayUntil || fresh === undefined;
    if (!replay && this.#pipeline.length === 0) {
      this.#admit(msg, body, fresh);
      return;
    }
    this.#pipeline.push(msg, body, replay ? this.#lookup(body.intentId) : Promise.resolve(fresh));
  }

  /**
   * Hands an intent to the dispatcher. `known` is its record as a lookup found it, or (fresh from
   * the front) only the revision of its `queued` record; undefined if it has none.
   */
  #admit(msg: JsMsg, body: StreamedIntent, known: Known | undefined): void {
    if (this.#state !== 'consuming' || !this.#deps.fence.holds()) return; // unacknowledged: the next owner has it
    const stored = known?.record;
    if (stored !== undefined && isSettled(stored)) {
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
    const item: InFlight = {
      msg, body, storedAt, attempt, handOff: new AbortController(), started: false, refused: false, revision: known?.revision, writes: Promise.resolve(),
    };
    this.#inflight.set(body.intentId, item);
    let result: ReturnType<Dispatcher['submit']>;
    try {
      result = this.#deps.dispatcher.submit(body.threadId, { type: body.type, payload: body.payload, intentId: body.intentId }, {
        attempt,
        signal: item.handOff.signal,
        onStart: (record) => {
          item.started = true;
          return this.#start(item, record);
        },
        keep: (_record, outcome) => {
          if (!item.refused && !(item.handOff.signal.aborted && outcome.status === 'cancelled')) return true;
          // Cancelled because the partition was handed over: unacknowledged, so the next owner runs it.
          // Dropped only once its `running` write is done (or given up), so no write of ours can land
          // after the next owner's.
          void item.writes.then(() => this.#drop(item));
          return false;
        },
        onSettled: (record) => this.#finish(item, record),
        // Its settlement as the bucket stores it (with partition, instance, attempt), as GET /v1/intents answers it.
        events: { append: (threadId, event) => this.#events.append(threadId, event.event === 'intent' ? { event: 'intent', data: this.#writer.placed(item, event.data) } : event) },
      });
    } catch (error) {
      this.#drop(item);
      throw error;
    }
    switch (result.kind) {
      case 'accepted':
        return;
      case 'duplicate':
        if (isSettled(result.record)) {
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
        const record: IntentRecord = {
          intentId: body.intentId, threadId: body.threadId, type: body.type, shard: this.#deps.shardOf(body.threadId),
          submittedAt: storedAt, settledAt: new Date().toISOString(), ...failedOutcome(result.error, RECORD_ERRORS.internal),
        };
        this.#events.append(body.threadId, { event: 'intent', data: this.#writer.placed(item, record) });
        this.#finish(item, record);
      }
    }
  }

  /**
   * Records the start; true lets the provider be called. False refuses the start (the lease lapsed,
   * or another owner moved the record): the run is cancelled, its outcome forgotten, and nothing is
   * acknowledged, so whoever owns the partition now runs it.
   */
  async #start(item: InFlight, record: IntentRecord): Promise<boolean> {
    const outcome = await this.#writer.write(item, record);
    // Checked again after the write: a pause while it was under way must not end in a provider call.
    const held = outcome.kind === 'written' && this.#deps.fence.holds();
    if (held && !item.handOff.signal.aborted) return true;
    item.refused = true;
    item.handOff.abort(new Error('start refused: the partition is no longer held here'));
    if (outcome.kind === 'written' && !held) {
      // The next owner finds it `running` and runs it with the next attempt.
      this.#deps.counters.staleRefused++;
    } else if (outcome.kind === 'moved') {
      if (isSettled(outcome.current.record)) {
        // Settled already (a copy of a republished intent, or a replay that raced its settlement).
        this.#deps.counters.skipped++;
        if (this.#deps.fence.holds()) ack(item.msg);
      } else if (this.#deps.fence.holds()) {
        // Another hold wrote it although the lease is ours: a stale owner's write landed late. Its
        // thread's next intents must not overtake it, so the partition is replayed from the stream.
        this.#deps.onBroken(new Error(`record of ${item.body.intentId} moved by another owner`));
      }
    }
    return false;
  }

  /**
   * Settled: write the final record, then acknowledge, so a replay finds the record first. A refused
   * write is not acknowledged: the record's owner (or the stream's next owner) settles it.
   */
  #finish(item: InFlight, record: IntentRecord): void {
    void this.#writer.write(item, record).then((outcome) => {
      if (outcome.kind === 'written' && this.#deps.fence.holds()) ack(item.msg);
      if (outcome.kind === 'moved' && !isSettled(outcome.current.record) && this.#deps.fence.holds()) {
        this.#deps.onBroken(new Error(`record of ${item.body.intentId} moved by another owner`));
      }
      this.#drop(item);
    });
  }

  #drop(item: InFlight): void {
    if (this.#inflight.get(item.body.intentId) === item) this.#inflight.delete(item.body.intentId);
    this.#checkEmpty();
  }

  /** Looks up a replayed intent's record, retrying while JetStream is unreachable. */
  async #lookup(intentId: string): Promise<Versioned | undefined> {
    for (let i = 0; this.#state === 'consuming'; i++) {
      try {
        return await this.#deps.store.read(intentId);
      } catch {
        await backoff(i);
      }
    }
    return undefined;
  }

  /** In-progress acks for every unacknowledged delivery, so none is redelivered while it waits or runs. */
  #keepAlive(): void {
    try {
      for (const item of this.#inflight.values()) item.msg.working();
      for (const msg of this.#pipeline.messages()) msg.working();
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
