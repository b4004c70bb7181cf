/**
 * Coalesces the messages one side sends within an event-loop turn into a single `postMessage`.
 *
 * Invariant: messages leave in the order they were pushed. A batch that structured clone refuses is
 * re-sent one message at a time, so one bad message is reported through `onUnsendable` and never
 * takes its neighbours down with it.
 */

import type { TransferListItem } from 'node:worker_threads';

/** The part of a MessagePort an Outbox needs. */
export interface PostTarget {
  postMessage(value: unknown, transferList?: readonly TransferListItem[]): void;
}

export class Outbox<M> {
  #target: PostTarget;
  #pending: M[] = [];
  /** Transfer lists of the pending messages that have one; undefined (the usual case) when none has. */
  #transfers: Map<M, readonly TransferListItem[]> | undefined;
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

  /** Queues a message; the batch leaves at the end of this event-loop turn, moving `transfer` with it. */
  push(message: M, transfer?: readonly TransferListItem[]): void {
    this.#pending.push(message);
    if (transfer !== undefined && transfer.length > 0) (this.#transfers ??= new Map()).set(message, transfer);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#flush);
    }
  }

  /**
   * The message queued last, while it has not been sent: a sender may still add to it (it is cloned
   * only when the batch posts) and keep the order exactly as if it had pushed a message of its own.
   */
  last(): M | undefined {
    return this.#pending[this.#pending.length - 1];
  }

  /** Sends everything queued now. Safe to call at any time. */
  flush(): void {
    this.#scheduled = false;
    if (this.#pending.length === 0) return;
    const batch = this.#pending;
    const transfers = this.#transfers;
    this.#pending = [];
    this.#transfers = undefined;
    try {
      if (transfers === undefined) this.#target.postMessage(batch);
      else this.#target.postMessage(batch, [...transfers.values()].flat());
    } catch {
      // A refused post transfers nothing, so each message can still go with its own list.
      for (const message of batch) {
        try {
          this.#target.postMessage([message], transfers?.get(message));
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
    this.#transfers = undefined;
    return dropped;
  }
}
