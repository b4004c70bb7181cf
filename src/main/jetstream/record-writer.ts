/**
 * Writes the records of one partition hold's intents to the intent bucket: one write at a time per
 * intent (so `settled` never lands before `running`), each a compare-and-set on the revision this hold
 * last saw, retried while JetStream is unreachable.
 *
 * Fencing: nothing is written unless `fence.holds()` says, at that moment, that the lease is still
 * ours; a write that finds the record moved by someone else is refused and counted (intent-store.ts).
 */
import type { IntentRecord } from '../service/records.ts';
import { isSettled } from '../service/records.ts';
import type { IntentStore, StoredIntent, UpdateResult, Versioned } from './intent-store.ts';
import type { Fence, PartitionCounters, PartitionLog } from './hold.ts';
import { backoff } from './retry.ts';

/**
 * How a record write ended: landed; refused because the lease had lapsed; refused because another
 * owner moved the record (`current`); or given up because the partition is being handed over.
 */
export type WriteOutcome = { kind: 'written' } | { kind: 'lapsed' } | { kind: 'moved'; current: Versioned } | { kind: 'gone' };

/** What the writer keeps per intent, on the partition's in-flight entry. */
export interface RecordState {
  /** When the front took the intent: the record's `submittedAt`. */
  readonly storedAt: string;
  readonly attempt: number;
  /** Aborted once the intent is handed off: its start is no longer recorded. */
  readonly handOff: AbortController;
  /** The record's revision as this hold last saw or wrote it; undefined if there is no record. */
  revision: number | undefined;
  /** This intent's writes, chained one after another. */
  writes: Promise<unknown>;
}

export interface RecordWriterDeps {
  store: IntentStore;
  fence: Fence;
  partition: number;
  instance: string;
  counters: PartitionCounters;
  log: PartitionLog;
  /** Fires once the partition is given up: writes of unsettled records stop. */
  released: AbortSignal;
}

export class RecordWriter {
  readonly #deps: RecordWriterDeps;
  /** Set by `abandon`: the connection is going away, so nothing more is retried. */
  #abandoned = false;

  constructor(deps: RecordWriterDeps) {
    this.#deps = deps;
  }

  /** Stops every retry: nothing more is written. */
  abandon(): void {
    this.#abandoned = true;
  }

  /** The dispatcher's `record` placed in this partition and hold: what the bucket stores (and a thread's events stream shows). */
  placed(state: RecordState, record: IntentRecord): StoredIntent {
    const { partition, instance, fence } = this.#deps;
    return { ...record, partition, submittedAt: state.storedAt, attempt: state.attempt, instance, lease: fence.token };
  }

  /** Writes the dispatcher's `record`, placed in this partition and hold, after the intent's earlier writes. */
  write(state: RecordState, record: IntentRecord): Promise<WriteOutcome> {
    const stored = this.placed(state, record);
    const done = state.writes.then(() => this.#writeNow(state, stored));
    state.writes = done;
    return done;
  }

  async #writeNow(state: RecordState, stored: StoredIntent): Promise<WriteOutcome> {
    const { store, fence, counters, log, partition } = this.#deps;
    for (let i = 0; ; i++) {
      if (!fence.holds()) {
        counters.staleRefused++;
        return { kind: 'lapsed' };
      }
      // A start of an intent already handed off (its cancel still on its way to the worker) is not recorded.
      const handedOff = this.#deps.released.aborted || state.handOff.signal.aborted;
      if (this.#abandoned || (handedOff && !isSettled(stored))) return { kind: 'gone' };
      let result: UpdateResult;
      try {
        result = await store.update(stored, state.revision);
      } catch (error) {
        log.warn({ partition, intentId: stored.intentId, err: error }, 'could not write the intent record; retrying');
        await backoff(i);
        continue;
      }
      if (result.ok) {
        state.revision = result.revision;
        return { kind: 'written' };
      }
      const { current } = result;
      if (current === undefined || current.record.status === 'queued') {
        // Expired (and perhaps submitted again under the same intentId): nobody has run it since.
        state.revision = current?.revision;
        continue;
      }
      // Settled by this very hold before (a duplicate delivery finishing again): nothing to write.
      if (isSettled(stored) && isSettled(current.record) && current.record.lease === stored.lease) return { kind: 'written' };
      counters.staleRefused++;
      log.warn({ partition, intentId: stored.intentId, by: current.record.instance, lease: current.record.lease }, 'intent record moved by another owner: write refused');
      return { kind: 'moved', current };
    }
  }
}
