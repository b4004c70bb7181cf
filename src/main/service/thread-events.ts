/**
 * Per-thread fan-out of intent outcomes to Server-Sent-Events subscribers. A thread's entry exists only
 * while it has subscribers, so the map is bounded by open streams, not by threads ever seen.
 */
import type { IntentRecord } from './records.ts';

export type Subscriber = (record: IntentRecord) => void;

export class ThreadEvents {
  readonly #subscribers = new Map<string, Set<Subscriber>>();

  /** Returns the function that unsubscribes. */
  subscribe(threadId: string, subscriber: Subscriber): () => void {
    let set = this.#subscribers.get(threadId);
    if (set === undefined) this.#subscribers.set(threadId, (set = new Set()));
    set.add(subscriber);
    return () => {
      set.delete(subscriber);
      if (set.size === 0 && this.#subscribers.get(threadId) === set) this.#subscribers.delete(threadId);
    };
  }

  /** Delivers in call order, which is the order outcomes settle on the main thread. */
  publish(record: IntentRecord): void {
    const set = this.#subscribers.get(record.threadId);
    if (set === undefined) return;
    for (const subscriber of [...set]) subscriber(record);
  }
}
