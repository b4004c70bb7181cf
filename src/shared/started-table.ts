/**
 * The worker's side of the started table in shared memory: which entry holds which task, and when
 * an entry may be freed, by the "started" rule in protocol.ts's header. Used by the worker only; the
 * main thread reads the table through `ShardMemory.startedIds()`.
 */
import type { ShardMemory } from './shard-memory.ts';

export class StartedTable {
  readonly #memory: ShardMemory;
  readonly #entries = new Map<number, number>();
  /** Ids whose terminal message waits in the outbox. */
  #awaitingFlush: number[] = [];
  /** Ids whose replacement message was queued during the current flush. */
  readonly #resent = new Set<number>();

  constructor(memory: ShardMemory) {
    this.#memory = memory;
  }

  /** Records a task about to start; false if the table is full (then announce it at once instead). */
  mark(id: number): boolean {
    const entry = this.#memory.markStarted(id);
    if (entry < 0) return false;
    this.#entries.set(id, entry);
    return true;
  }

  /** The task's terminal message is in the outbox: free its entry once that batch is posted. */
  reported(id: number): void {
    if (this.#entries.has(id)) this.#awaitingFlush.push(id);
  }

  /** The task's terminal message was refused and replaced in the outbox: keep its entry one more flush. */
  resent(id: number): void {
    this.#resent.add(id);
  }

  /** The outbox posted a batch: the reported tasks' messages will now arrive, so their entries go. */
  flushed(): void {
    const ids = this.#awaitingFlush;
    this.#awaitingFlush = [];
    for (const id of ids) {
      if (this.#resent.has(id)) this.#awaitingFlush.push(id);
      else this.release(id);
    }
    this.#resent.clear();
  }

  /** Frees the entry at once: for a task the main thread has already settled. */
  release(id: number): void {
    const entry = this.#entries.get(id);
    if (entry === undefined) return;
    this.#entries.delete(id);
    this.#memory.release(entry);
  }
}
