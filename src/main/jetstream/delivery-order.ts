/**
 * A partition's admission in delivery order: an intent that needs its record looked up first (a
 * replay) holds back every intent delivered after it, so each thread's lane still gets its intents in
 * stream order.
 *
 *   deliver ─► push(msg, lookup) ─► [ waiting … ] ─► head's lookup done ─► admit(msg, known)
 *
 * Invariant: `admit` is called for waiting entries strictly in push order, one at a time, and only
 * while `open()` holds; `clear()` drops every waiting entry, none of which is then admitted.
 */
import type { JsMsg } from 'nats';
import type { Versioned } from './intent-store.ts';
import type { StreamedIntent } from './publisher.ts';

/** What is known of an intent's record on delivery: all of it (a lookup), or only the revision the front created it at. */
export type Known = Versioned | { record: undefined; revision: number };

interface Waiting {
  msg: JsMsg;
  body: StreamedIntent;
  lookup: Promise<Known | undefined>;
}

export interface DeliveryOrderHooks {
  /** Whether to keep admitting (the partition is consuming). */
  open(): boolean;
  admit(msg: JsMsg, body: StreamedIntent, known: Known | undefined): void;
  /** The pump failed (an admit threw): the partition must be handed back. */
  onError(error: unknown): void;
  /** The queue ran empty (or was left by a closed partition). */
  onIdle(): void;
}

export class DeliveryOrder {
  readonly #hooks: DeliveryOrderHooks;
  readonly #waiting: Waiting[] = [];
  #pumping = false;

  constructor(hooks: DeliveryOrderHooks) {
    this.#hooks = hooks;
  }

  /** Intents waiting for their turn (or their lookup). */
  get length(): number {
    return this.#waiting.length;
  }

  push(msg: JsMsg, body: StreamedIntent, lookup: Promise<Known | undefined>): void {
    this.#waiting.push({ msg, body, lookup });
    this.#pump().catch((error: unknown) => this.#hooks.onError(error));
  }

  clear(): void {
    this.#waiting.length = 0;
  }

  /** Every waiting delivery, for in-progress acks. */
  messages(): JsMsg[] {
    return this.#waiting.map((waiting) => waiting.msg);
  }

  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (this.#waiting.length > 0 && this.#hooks.open()) {
        const head = this.#waiting[0]!;
        const known = await head.lookup;
        if (this.#waiting[0] !== head) continue; // cleared meanwhile
        this.#waiting.shift();
        this.#hooks.admit(head.msg, head.body, known);
      }
    } finally {
      this.#pumping = false;
    }
    this.#hooks.onIdle();
  }
}
