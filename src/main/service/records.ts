/**
 * Intent records for `GET /v1/intents/:id` and idempotent submission. Unsettled records are always
 * kept (the pool's `maxQueued` bounds them). Settled records are kept up to `maxSettled` and for at
 * most `maxAgeMs` after they settle, oldest evicted first; after that an intentId is unknown again.
 *
 * Every timestamp (`submittedAt`, `startedAt`, `settledAt`) comes from `stamp()`, one clock that
 * never goes backwards, so timestamps taken in order compare in order even if the wall clock steps
 * back. Taking them in order is the dispatcher's part (see its `onStart`).
 */
import type { IntentType } from '../../shared/service/intents.ts';

/**
 * The codes the service itself writes on a record's `error`, beside the pool's `ERROR_CODES` (which a
 * failed task carries) and a provider's own string `code`. The README's "Record errors" table lists
 * exactly these; a test checks it both ways, and that no other `ERR_` code appears in src/ untabled.
 */
export const RECORD_ERRORS = Object.freeze({
  /** The provider threw something with no string `code` of its own. */
  handler: 'ERR_HANDLER',
  /** JetStream mode: the result was over the NATS server's max_payload, so the record leaves it out. */
  resultTooLarge: 'ERR_RESULT_TOO_LARGE',
  /** JetStream mode: the pool refused an accepted intent with an error that has no code (a bug). */
  internal: 'ERR_INTERNAL',
});

export type IntentStatus = 'queued' | 'running' | 'completed' | 'failed' | 'timed_out' | 'cancelled';

/**
 * An intent's record, as `GET /v1/intents/:id` answers it, whichever backend holds it (see
 * intent-backend.ts). The fields past `status` marked "JetStream mode" are set only there.
 */
export interface IntentRecord {
  intentId: string;
  threadId: string;
  type: IntentType;
  status: IntentStatus;
  /** The shard that runs (or ran) it. JetStream mode: absent while queued, then the shard on `instance`. */
  shard?: number;
  /** Which run of the intent this is (ctx.attempt). JetStream mode only: 0 while queued. */
  attempt?: number;
  /** JetStream mode: the stream partition of its thread. */
  partition?: number;
  /** JetStream mode: the instance that ran (or runs) it. */
  instance?: string;
  /** JetStream mode: the lease revision of the partition hold that wrote it (a fencing token); absent while queued. */
  lease?: number;
  submittedAt: string;
  startedAt?: string;
  settledAt?: string;
  result?: unknown;
  error?: { code: string; message: string };
}

/** How a run ended, as its record says it. */
export type Outcome = Pick<IntentRecord, 'status' | 'result' | 'error'>;

/** True once the record holds its outcome (the one settled predicate of both backends). */
export function isSettled(record: Pick<IntentRecord, 'status'>): boolean {
  return record.status !== 'queued' && record.status !== 'running';
}

/**
 * The outcome of an intent that failed with `error`: a pool deadline or cancel keeps its own status,
 * anything else fails, with the error's own string code or `fallback` (which says why it had none).
 */
export function failedOutcome(error: Error & { code?: unknown }, fallback: string): Outcome {
  const status: IntentStatus = error.code === 'ERR_LANE_TIMEOUT' ? 'timed_out' : error.code === 'ERR_LANE_CANCELLED' ? 'cancelled' : 'failed';
  return { status, error: { code: typeof error.code === 'string' ? error.code : fallback, message: error.message } };
}

interface Entry {
  record: IntentRecord;
  settledAtMs: number;
  /** Created only when someone waits. */
  waiters: ((record: IntentRecord) => void)[] | undefined;
}

export class IntentRecords {
  readonly #entries = new Map<string, Entry>();
  /** Settled intent ids in the order they settled; ids may be stale if already evicted. */
  #settled: string[] = [];
  #settledHead = 0;
  readonly #maxSettled: number;
  readonly #maxAgeMs: number;
  readonly #clock: () => number;
  /** The latest time `stamp()` handed out, in ms since the epoch. */
  #lastMs = 0;
  /** The ISO string of `#lastStampMs`: intents arriving within one millisecond share it. */
  #lastStamp = '';
  #lastStampMs = -1;

  /** `clock` is the wall clock in ms (`Date.now` unless a test supplies its own). */
  constructor(limits: { maxSettled: number; maxAgeMs: number }, clock: () => number = Date.now) {
    this.#maxSettled = limits.maxSettled;
    this.#maxAgeMs = limits.maxAgeMs;
    this.#clock = clock;
  }

  /** Now, in ms, never earlier than a time this method returned before. */
  now(): number {
    this.#lastMs = Math.max(this.#lastMs, this.#clock());
    return this.#lastMs;
  }

  /** `now()` as an ISO string: the one source of every record timestamp. */
  stamp(): string {
    return this.#iso(this.now());
  }

  #iso(ms: number): string {
    if (ms !== this.#lastStampMs) {
      this.#lastStamp = new Date(ms).toISOString();
      this.#lastStampMs = ms;
    }
    return this.#lastStamp;
  }

  get(intentId: string): IntentRecord | undefined {
    this.#evict(this.now());
    return this.#entries.get(intentId)?.record;
  }

  add(record: IntentRecord): void {
    this.#entries.set(record.intentId, { record, settledAtMs: 0, waiters: undefined });
  }

  /** Drops an unsettled record without settling it: its intent will run again elsewhere. */
  forget(record: IntentRecord): void {
    const entry = this.#entries.get(record.intentId);
    if (entry !== undefined && entry.record === record && !isSettled(record)) this.#entries.delete(record.intentId);
  }

  markRunning(record: IntentRecord): void {
    if (record.status !== 'queued') return;
    record.status = 'running';
    record.startedAt = this.stamp();
  }

  /** Settles a record once; later calls are ignored. */
  settle(record: IntentRecord, outcome: Outcome): boolean {
    const entry = this.#entries.get(record.intentId);
    if (entry === undefined || entry.record !== record || isSettled(record)) return false;
    const now = this.now();
    record.status = outcome.status;
    record.settledAt = this.#iso(now);
    if (outcome.result !== undefined) record.result = outcome.result;
    if (outcome.error !== undefined) record.error = outcome.error;
    entry.settledAtMs = now;
    this.#settled.push(record.intentId);
    for (const waiter of entry.waiters ?? []) waiter(record);
    entry.waiters = undefined;
    this.#evict(now);
    return true;
  }

  /** Resolves with the record once it is settled; at once if it already is. */
  whenSettled(record: IntentRecord): Promise<IntentRecord> {
    return new Promise((resolve) => this.onSettled(record, resolve));
  }

  /** Calls `settled` with the record once it is settled: synchronously if it already is, else from `settle`. */
  onSettled(record: IntentRecord, settled: (record: IntentRecord) => void): void {
    if (isSettled(record)) return settled(record);
    (this.#entries.get(record.intentId)!.waiters ??= []).push(settled);
  }

  /**
   * A thread's records still held: its unsettled ones, and its last `settledLimit` settled ones,
   * newest first. A scan of every record held (bounded by --records-max and the pool's queue bounds),
   * for an operator's look-up, not for a hot path.
   */
  ofThread(threadId: string, settledLimit: number): { unsettled: IntentRecord[]; settled: IntentRecord[] } {
    this.#evict(this.now());
    const unsettled: IntentRecord[] = [];
    for (const { record } of this.#entries.values()) if (record.threadId === threadId && !isSettled(record)) unsettled.push(record);
    const settled: IntentRecord[] = [];
    for (let i = this.#settled.length - 1; i >= this.#settledHead && settled.length < settledLimit; i--) {
      const record = this.#entries.get(this.#settled[i]!)?.record;
      if (record !== undefined && record.threadId === threadId && isSettled(record)) settled.push(record);
    }
    return { unsettled, settled };
  }

  #evict(now: number): void {
    while (this.#settledHead < this.#settled.length) {
      const id = this.#settled[this.#settledHead]!;
      const entry = this.#entries.get(id);
      const live = this.#settled.length - this.#settledHead;
      if (entry !== undefined && entry.settledAtMs > 0 && live <= this.#maxSettled && now - entry.settledAtMs < this.#maxAgeMs) break;
      if (entry !== undefined && entry.settledAtMs > 0) this.#entries.delete(id);
      this.#settledHead++;
    }
    if (this.#settledHead > 4096 && this.#settledHead * 2 > this.#settled.length) {
      this.#settled = this.#settled.slice(this.#settledHead);
      this.#settledHead = 0;
    }
  }
}
