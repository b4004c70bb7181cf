/**
 * Where intents live: the one seam between the HTTP routes and what runs and records intents.
 *
 *   routes ─► IntentBackend ─┬─ MemoryIntents (memory-intents.ts): this instance's pool and records
 *                            └─ JetStreamMode (../jetstream/mode.ts): a partitioned stream and a KV bucket
 *
 * The routes know only this interface; server.ts is the one file that picks an implementation. A
 * third backend implements it and is picked there; neither the routes nor the dispatcher change.
 * Both backends share the record type and `isSettled` (records.ts), idempotency (idempotency.ts),
 * and the refusal→HTTP mapping (refusals.ts).
 */
import type { Intent, IntentType } from '../../shared/service/intents.ts';
import type { IntentRecord } from './records.ts';
import type { Subscriber } from './thread-events.ts';

export interface Submission {
  type: IntentType;
  payload: Intent['payload'];
  intentId?: string;
}

export type SubmitResult =
  /** Taken: it runs (here or on whichever instance owns its thread). */
  | { kind: 'accepted'; record: IntentRecord }
  /** The intentId was already taken for the same thread and type: nothing new runs. */
  | { kind: 'duplicate'; record: IntentRecord }
  /** The intentId was already used for another thread or type. */
  | { kind: 'conflict'; record: IntentRecord }
  /** Not taken, and why, as an error with a `code` (refusals.ts maps it to an HTTP answer). */
  | { kind: 'refused'; error: Error & { code?: string } };

export interface IntentBackend {
  /**
   * Accepts an intent for a thread, or says why not. `bytes` is what the HTTP body counts against the
   * pool's byte bounds at least (see `bodyBytes` in routes/intents.ts), where the backend bounds bytes.
   * @throws only on a bug; every expected refusal is a `refused` result.
   */
  submit(threadId: string, submission: Submission, options: { bytes?: number }): Promise<SubmitResult>;
  /** The record of an intent, undefined if unknown (never submitted, or expired). */
  get(intentId: string): Promise<IntentRecord | undefined>;
  /**
   * Resolves with the record once it is settled, at once if it already is; with undefined if `signal`
   * fires first or the record disappears. May reject if the backend cannot be reached.
   */
  whenSettled(record: IntentRecord, signal: AbortSignal): Promise<IntentRecord | undefined>;
  /**
   * The thread's event stream (thread-events.ts): its provider events and intent settlements, as SSE
   * frames with ids, in order, wherever its intents run. With `sinceId` (a client's Last-Event-ID),
   * what the buffer still holds after it first, or a `gap` frame for what it no longer does. Returns
   * the unsubscribe.
   */
  subscribe(threadId: string, subscriber: Subscriber, sinceId?: number): () => void;
  /** Fields GET /v1/threads/:id adds to its answer: where the thread runs, when that is not simply here. */
  placement(threadId: string): Promise<Record<string, unknown>>;
  /** For GET /readyz: `healthy: false` makes a ready service `degraded`; `detail` is added to the answer. */
  health(): { healthy: boolean; detail?: Record<string, unknown> };
  /** What the operator console shows of a backend shared by instances (this instance's part in it); null for one local to this process. */
  overview(): Record<string, unknown> | null;
  /** Stops taking intents from elsewhere and hands over what it holds, within about `graceMs`. */
  stop(graceMs: number): Promise<void>;
}
