/**
 * Coalesces the messages one side sends within an event-loop turn into a single `postMessage`.
 *
 * Invariant: messages leave in the order they were pushed. A batch that structured clone refuses is
 * re-sent one message at a time, so one bad message is reported through `onUnsendable` and never
 * takes its neighbours down with it.
 */

/** The part of a MessagePort an Outbox needs. */
export interface PostTarget {
  postMessage(value: unknown): void;
}

export class Outbox<M> {
  #target: PostTarget;
  #pending: M[] = [];
  #scheduled = false;
  readonly #onUnsendable: (message: M, error: unknown) => void;
  readonly #onFlushed: (() => void) | undefined;
  readonly #flush = (): void => this.flush();

  /** `onFlushed` runs after each flush that posted something: those messages will now arrive. */
  constructor(target: PostTarget, onUnsendable: (message: M, error: unknown) => void, onFlushed?: () => void) {
    this.#target = target;
    this.#onUnsendable = onUnsendable;
    this.#onFlushed = onFlushed;
  }

  /** Queues a message; the batch leaves at the end of this event-loop turn. */
  push(message: M): void {
    this.#pending.push(message);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#flush);
    }
  }

  /** Sends everything queued now. Safe to call at any time. */
  flush(): void {
    this.#scheduled = false;
    if (this.#pending.length === 0) return;
    const batch = this.#pending;
    this.#pending = [];
    try {
      this.#target.postMessage(batch);
    } catch {
      for (const message of batch) {
        try {
          this.#target.postMessage([message]);
        } catch (error) {
          this.#onUnsendable(message, error);
        }
      }
    }
    this.#onFlushed?.();
  }

  /** Drops whatever has not been sent yet and returns it. */
  discard(): M[] {
    const dropped = this.#pending;
    this.#pending = [];
    return dropped;
  }
}
