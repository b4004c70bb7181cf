/**
 * Turns accepted HTTP submissions into pool runs, and their outcomes into records, events and metrics.
 *
 * Invariants: every accepted intent has a record that settles exactly once (the pool settles each
 * run once, and `IntentRecords.settle` ignores repeats). `#active` holds a thread only while it has
 * unsettled intents, so it is bounded by live work, like the pool's lanes.
 */
import { randomUUID } from 'node:crypto';
import { estimateBytes } from '../../shared/payload-size.ts';
import { createStartGate, openStartGate } from '../../shared/start-gate.ts';
import type { LanePool } from '../pool.ts';
import { ANSWER_INTENTS, CONTROL_INTENTS, type GatedIntent, type IntentType, type ReactorTask, type ThreadView } from '../../shared/service/intents.ts';
import { AnswerBytes } from './answer-bytes.ts';
import { reuseOf } from './idempotency.ts';
import type { Submission, SubmitResult } from './intent-backend.ts';
import { startIntentSpan, type IntentSpan } from './intent-span.ts';
import type { ServiceMetrics } from './metrics.ts';
import { RECORD_ERRORS, failedOutcome, type IntentRecord, type IntentRecords, type Outcome } from './records.ts';
import type { ProviderEventData, ThreadEventSink } from './thread-events.ts';

/**
 * How an intent is run. The in-memory backend passes only its size; a backend that records intents
 * elsewhere (JetStreamMode) uses the rest to record the start before the provider is called, to run it
 * again elsewhere instead of settling it here (`keep`), and to write the settled record.
 */
export interface RunHooks {
  /**
   * What the intent counts against the pool's byte bounds, at least (the HTTP route passes twice the
   * body's length: see `bodyBytes` there). The dispatcher counts the larger of this and the parsed
   * payload's estimate (`estimateBytes`), which catches bodies of many small fields.
   */
  bytes?: number;
  /** ctx.attempt for this run. @default 1 */
  attempt?: number;
  /** Aborting it cancels the intent, like `pool.run`'s signal. */
  signal?: AbortSignal;
  /**
   * The intent has started running; its record says so. If this returns a promise, the provider is
   * not called until it resolves (it records the start elsewhere first); resolving `false` refuses
   * the start: the provider is never called, and the hook cancels the run through `signal`.
   */
  onStart?(record: IntentRecord): void | Promise<void | boolean>;
  /**
   * Sees the outcome before it is recorded. Returning false forgets the intent instead: no record,
   * event or metric, because it will run again elsewhere (its partition was handed over).
   */
  keep?(record: IntentRecord, outcome: Outcome): boolean;
  /** The record has settled. */
  onSettled?(record: IntentRecord): void;
  /** Where this run's thread events go (its provider events, then its settlement). @default the dispatcher's own sink */
  events?: ThreadEventSink;
}

export interface ThreadActivity {
  queued: number;
  running: { intentId: string; type: IntentType; since: string }[];
}

/** A thread whose running intent is older than the stuck threshold. */
export interface StuckThread {
  threadId: string;
  shard: number;
  intentId: string;
  type: IntentType;
  /** When that intent started (its record's startedAt). */
  since: string;
}

/** How long GET /v1/threads/:id waits for the owning worker to describe the session. */
const DESCRIBE_TIMEOUT_MS = 2_000;

export class Dispatcher {
  readonly #pool: LanePool<ReactorTask, unknown>;
  readonly #records: IntentRecords;
  readonly #events: ThreadEventSink;
  readonly #metrics: ServiceMetrics;
  readonly #active = new Map<string, Set<IntentRecord>>();
  readonly #answers: AnswerBytes;

  /** `answerBytes`: the answers' own byte budget (answer-bytes.ts), the service's byte bounds. @default unbounded */
  constructor(
    pool: LanePool<ReactorTask, unknown>, records: IntentRecords, events: ThreadEventSink, metrics: ServiceMetrics,
    answerBytes = { maxBytes: Number.MAX_SAFE_INTEGER, maxBytesPerThread: Number.MAX_SAFE_INTEGER },
  ) {
    this.#answers = new AnswerBytes(answerBytes);
    this.#pool = pool;
    this.#records = records;
    this.#events = events;
    this.#metrics = metrics;
  }

  /**
   * Accepts an intent for a thread, or says why not, without waiting for anything. A stop cancels the
   * thread's lane (releasing a hung start) before admission is even checked, then runs as a control
   * task, which the pool admits past its full queues: Stop always gets in.
   */
  submit(threadId: string, submission: Submission, hooks: RunHooks = {}): SubmitResult {
    const { type, payload } = submission;
    if (submission.intentId !== undefined) {
      const existing = this.#records.get(submission.intentId);
      if (existing !== undefined) return { kind: reuseOf(existing, threadId, type), record: existing };
    }
    const control = CONTROL_INTENTS.has(type);
    // Cancelled first: what the stop releases is room for it and for what follows it. Should the stop
    // itself still be refused (the control allowance is full), the lane is released all the same,
    // which is what a stop is for.
    if (type === 'thread.session.stop') this.#pool.cancel(threadId, 'session stop requested');
    // Answers are control tasks, which the pool counts no bytes for; their bytes count here instead.
    const answer = ANSWER_INTENTS.has(type);
    const bytes = control && !answer ? 0 : Math.max(hooks.bytes ?? 0, estimateBytes(payload));
    const refusal = this.#pool.checkAdmission(threadId, control ? 'control' : 'normal', bytes) ?? (answer ? this.#answers.check(threadId, bytes) : undefined);
    if (refusal !== undefined) return { kind: 'refused', error: refusal };
    const release = answer ? this.#answers.hold(threadId, bytes) : undefined;

    const intentId = submission.intentId ?? randomUUID();
    const shard = this.#pool.shardOf(threadId);
    const record: IntentRecord = { intentId, threadId, type, shard, status: 'queued', submittedAt: this.#records.stamp() };
    if (hooks.attempt !== undefined) record.attempt = hooks.attempt;
    this.#records.add(record);
    this.#track(record);
    const started = performance.now();
    const span = startIntentSpan({ threadId, type, intentId, shard, attempt: hooks.attempt ?? 1 });
    const intent = { type, payload, intentId } as GatedIntent;
    if (span.traceparent !== undefined) intent.traceparent = span.traceparent;
    // Control intents are never held back, not even for their record: stop must get in at once, and
    // see the state of the start it cancels. They are safe to repeat if a crash cuts them short.
    const gate = hooks.onStart && !control ? createStartGate() : undefined;
    if (gate) intent.startGate = gate.buffer;
    // The thread's event order: a run's provider events go out once its record says `running` (held
    // until then: see onStart below), so after the settlement of the intent before it on the thread,
    // and all before its own settlement (the pool's event rule). One rule, kept here.
    const sink = hooks.events ?? this.#events;
    // Until its start is marked: `holding`, with the held events in `held` (made for the first one).
    let holding = true;
    let held: ProviderEventData[] | undefined;
    const flush = (): void => {
      holding = false;
      if (held === undefined) return;
      for (const data of held) sink.append(threadId, { event: 'provider', data });
      held = undefined;
    };
    const onEvent = (event: unknown): void => {
      const data = providerEventData(threadId, intentId, event);
      if (data === undefined) return;
      if (holding) (held ??= []).push(data);
      else sink.append(threadId, { event: 'provider', data });
    };
    const markRunning = (): void => {
      this.#records.markRunning(record);
      flush();
      if (!hooks.onStart) return;
      if (!gate) {
        void Promise.resolve().then(() => hooks.onStart!(record)).catch(() => {});
        return;
      }
      const open = (verdict: void | boolean): void => openStartGate(gate, verdict !== false);
      // A failed hook still opens the gate: the intent runs; the hook reports its own failure.
      Promise.resolve().then(() => hooks.onStart!(record)).then(open, () => open());
    };
    // In order: a worker reports an intent's start in the same batch as the settlement of the intent
    // before it on the thread, whose record settles in a promise reaction the pool has already
    // queued. Marking this one in a reaction queued after that keeps startedAt >= its settledAt.
    const onStart = (): void => void Promise.resolve().then(markRunning);
    const settled = this.#pool
      .run(threadId, intent, { priority: control ? 'control' : 'normal', onStart, onEvent, attempt: hooks.attempt, signal: hooks.signal, bytes })
      .then(
        (result) => this.#settle(record, started, { status: 'completed', result }, hooks, span, flush),
        (error: Error) => this.#settle(record, started, failedOutcome(error, RECORD_ERRORS.handler), hooks, span, flush),
      );
    // Only answers hold bytes of their own; no promise for the rest.
    if (release !== undefined) void settled.finally(release);
    return { kind: 'accepted', record };
  }

  whenSettled(record: IntentRecord): Promise<IntentRecord> {
    return this.#records.whenSettled(record);
  }

  /** Queued and running intents of a thread, from the main thread's own bookkeeping. */
  activity(threadId: string): ThreadActivity {
    const running: ThreadActivity['running'] = [];
    let queued = 0;
    for (const record of this.#active.get(threadId) ?? []) {
      if (record.status === 'running') running.push({ intentId: record.intentId, type: record.type, since: record.startedAt! });
      else queued++;
    }
    return { queued, running };
  }

  /**
   * The thread's session as its worker sees it, read by a control task so a hung turn cannot delay
   * it. Undefined if the worker does not answer in time (its event loop may be blocked).
   */
  async describe(threadId: string): Promise<ThreadView | undefined> {
    if (this.#pool.checkAdmission(threadId, 'control') !== undefined) return undefined;
    try {
      // A signal, not `timeoutMs`: a deadline counts from the task's start, and a frozen worker never
      // starts it, so the read would wait for the watchdog (forever with it off) while holding a slot
      // of the control allowance that stops need. The signal drops it, started or not.
      const signal = AbortSignal.timeout(DESCRIBE_TIMEOUT_MS);
      return (await this.#pool.run(threadId, { type: 'lanepool.thread.describe' }, { priority: 'control', signal })) as ThreadView;
    } catch {
      return undefined;
    }
  }

  /** Per shard: lanes whose running intent started more than `olderThanMs` ago. */
  stuckLanes(olderThanMs: number): number[] {
    const counts = new Array<number>(this.#pool.shards).fill(0);
    const cutoff = Date.now() - olderThanMs;
    for (const records of this.#active.values()) {
      for (const record of records) {
        if (record.status === 'running' && Date.parse(record.startedAt!) < cutoff) {
          counts[record.shard!]!++;
          break;
        }
      }
    }
    return counts;
  }

  /**
   * Each thread whose running intent started more than `olderThanMs` ago, oldest first: the console's
   * list, counted the same way as `stuckLanes` (one entry per thread, its oldest running intent).
   */
  stuckThreads(olderThanMs: number): StuckThread[] {
    const cutoff = Date.now() - olderThanMs;
    const stuck: StuckThread[] = [];
    for (const [threadId, records] of this.#active) {
      let oldest: IntentRecord | undefined;
      for (const record of records) {
        if (record.status === 'running' && (oldest === undefined || record.startedAt! < oldest.startedAt!)) oldest = record;
      }
      if (oldest !== undefined && Date.parse(oldest.startedAt!) < cutoff) {
        stuck.push({ threadId, shard: oldest.shard!, intentId: oldest.intentId, type: oldest.type, since: oldest.startedAt! });
      }
    }
    return stuck.sort((a, b) => (a.since < b.since ? -1 : a.since > b.since ? 1 : 0));
  }

  #track(record: IntentRecord): void {
    let set = this.#active.get(record.threadId);
    if (set === undefined) this.#active.set(record.threadId, (set = new Set()));
    set.add(record);
  }

  #settle(record: IntentRecord, startedAt: number, outcome: Outcome, hooks: RunHooks, span: IntentSpan, flushEvents: () => void): void {
    const set = this.#active.get(record.threadId);
    set?.delete(record);
    if (set?.size === 0) this.#active.delete(record.threadId);
    span.end(outcome.status, outcome.error?.code, outcome.error?.message);
    if (hooks.keep?.(record, outcome) === false) {
      this.#records.forget(record);
      return;
    }
    // Events still held (settled before its start was marked) go out ahead of the settlement.
    flushEvents();
    if (!this.#records.settle(record, outcome)) return;
    this.#metrics.observeIntent(record.type, record.status, (performance.now() - startedAt) / 1000);
    (hooks.events ?? this.#events).append(record.threadId, { event: 'intent', data: record });
    hooks.onSettled?.(record);
  }
}

/**
 * A provider event as the thread's stream carries it, or undefined for something that is not one
 * (a custom provider's mistake: the reactor checks `kind`, but a `--handler` module could emit
 * anything through a context of its own).
 */
function providerEventData(threadId: string, intentId: string, event: unknown): ProviderEventData | undefined {
  if (event === null || typeof event !== 'object') return undefined;
  const { kind, requestId, turnId, data } = event as Record<string, unknown>;
  if (typeof kind !== 'string') return undefined;
  const out: ProviderEventData = { threadId, intentId, kind };
  if (typeof requestId === 'string') out.requestId = requestId;
  if (typeof turnId === 'string') out.turnId = turnId;
  if (data !== undefined) out.data = data;
  return out;
}
