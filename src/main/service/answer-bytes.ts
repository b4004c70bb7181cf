/**
 * The byte budget of unsettled answers (`thread.approval.respond`, `thread.user-input.respond`). They
 * run as control tasks, which the pool counts only against `maxQueuedControl`, never against its byte
 * bounds (a stop must always get in); but an answer carries a body up to `--body-limit`, and a worker
 * that is slow to run them could let a thousand of them pile up. So answers have a budget of their
 * own, as large as the pool's: `--max-queued-bytes` in all and `--max-queued-bytes-per-thread` per
 * thread, counted from acceptance until the answer settles, with the pool's rule that one answer
 * larger than a bound alone is taken when nothing else holds bytes there. Stops and interrupts carry
 * next to nothing and are not counted: they always get in.
 */
import { QueueFullError } from '../../shared/errors.ts';

export class AnswerBytes {
  readonly #max: number;
  readonly #maxPerThread: number;
  #total = 0;
  /** Threads with unsettled answers only, so bounded by live work. */
  readonly #byThread = new Map<string, number>();

  constructor(limits: { maxBytes: number; maxBytesPerThread: number }) {
    this.#max = limits.maxBytes;
    this.#maxPerThread = limits.maxBytesPerThread;
  }

  /** The refusal an answer of `bytes` for `threadId` gets now, or undefined if it fits. */
  check(threadId: string, bytes: number): QueueFullError | undefined {
    const held = this.#byThread.get(threadId) ?? 0;
    if (held > 0 && held + bytes > this.#maxPerThread) return new QueueFullError({ key: threadId, limit: 'maxQueuedBytesPerKey', max: this.#maxPerThread });
    if (this.#total > 0 && this.#total + bytes > this.#max) return new QueueFullError({ key: threadId, limit: 'maxQueuedBytes', max: this.#max });
    return undefined;
  }

  /** Holds `bytes` for the thread until the returned function (call it once, at settlement) releases them. */
  hold(threadId: string, bytes: number): () => void {
    this.#total += bytes;
    this.#byThread.set(threadId, (this.#byThread.get(threadId) ?? 0) + bytes);
    return () => {
      this.#total -= bytes;
      const left = this.#byThread.get(threadId)! - bytes;
      if (left === 0) this.#byThread.delete(threadId);
      else this.#byThread.set(threadId, left);
    };
  }
}
