/**
 * The in-memory intent backend (the default, without `--nats`): intents run in this instance's pool
 * through the dispatcher, and their records live in this process (records.ts), gone at exit.
 */
import type { Dispatcher } from './dispatcher.ts';
import type { IntentBackend, Submission, SubmitResult } from './intent-backend.ts';
import type { IntentRecord, IntentRecords } from './records.ts';
import type { Subscriber, ThreadEvents } from './thread-events.ts';

export class MemoryIntents implements IntentBackend {
  readonly #dispatcher: Dispatcher;
  readonly #records: IntentRecords;
  readonly #events: ThreadEvents;

  constructor(dispatcher: Dispatcher, records: IntentRecords, events: ThreadEvents) {
    this.#dispatcher = dispatcher;
    this.#records = records;
    this.#events = events;
  }

  async submit(threadId: string, submission: Submission, options: { bytes?: number }): Promise<SubmitResult> {
    return this.#dispatcher.submit(threadId, submission, options.bytes === undefined ? {} : { bytes: options.bytes });
  }

  async get(intentId: string): Promise<IntentRecord | undefined> {
    return this.#records.get(intentId);
  }

  whenSettled(record: IntentRecord, signal: AbortSignal): Promise<IntentRecord | undefined> {
    const settled = this.#records.whenSettled(record);
    if (signal.aborted) return Promise.resolve(undefined);
    // The waiter stays with the record until it settles (bounded, like the record itself); only the
    // caller stops waiting.
    return new Promise((resolve) => {
      const stop = (): void => resolve(undefined);
      signal.addEventListener('abort', stop, { once: true });
      void settled.then((done) => {
        signal.removeEventListener('abort', stop);
        resolve(done);
      });
    });
  }

  subscribe(threadId: string, subscriber: Subscriber, sinceId?: number): () => void {
    return this.#events.subscribe(threadId, subscriber, sinceId);
  }

  /** Every thread runs here. */
  async placement(): Promise<Record<string, unknown>> {
    return {};
  }

  health(): { healthy: boolean } {
    return { healthy: true };
  }

  overview(): null {
    return null;
  }

  /** Nothing to hand over: the service drains the pool itself. */
  async stop(): Promise<void> {}
}
