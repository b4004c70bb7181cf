/**
 * Typed access to one worker life's SharedArrayBuffer (layout in protocol.ts). Two writers never
 * share a slot: the worker alone writes the heartbeat, the posting mark and the started table; the
 * main thread only reads them. When the started table is written and read is the "started" rule in
 * protocol.ts's header.
 */
import { HEARTBEAT_SLOT, LOADED_SLOT, MEMORY_BYTES, POSTING_SLOT, STARTED_CAPACITY, STARTED_OFFSET } from './protocol.ts';

export class ShardMemory {
  readonly buffer: SharedArrayBuffer;
  readonly #counters: Int32Array;
  readonly #started: Float64Array;
  /** Worker side: free entries of the started table. */
  #free: number[] | undefined;

  constructor(buffer = new SharedArrayBuffer(MEMORY_BYTES)) {
    this.buffer = buffer;
    this.#counters = new Int32Array(buffer, 0, 3);
    this.#started = new Float64Array(buffer, STARTED_OFFSET, STARTED_CAPACITY);
  }

  beat(): void {
    Atomics.add(this.#counters, HEARTBEAT_SLOT, 1);
  }

  heartbeat(): number {
    return Atomics.load(this.#counters, HEARTBEAT_SLOT);
  }

  /** Worker: a postMessage (and its structured clone) begins. */
  beginPost(): void {
    Atomics.store(this.#counters, POSTING_SLOT, 1);
  }

  /** Worker: the post returned; beat too, so the watchdog sees progress at once. */
  endPost(): void {
    Atomics.store(this.#counters, POSTING_SLOT, 0);
    Atomics.add(this.#counters, HEARTBEAT_SLOT, 1);
  }

  /** True while the worker is inside a postMessage. */
  posting(): boolean {
    return Atomics.load(this.#counters, POSTING_SLOT) === 1;
  }

  /** Worker: the handler is loaded; from here on a death is a crash, not a boot failure. */
  markLoaded(): void {
    Atomics.store(this.#counters, LOADED_SLOT, 1);
  }

  loaded(): boolean {
    return Atomics.load(this.#counters, LOADED_SLOT) === 1;
  }

  /** Worker: records a started task; returns its entry, or -1 if the table is full. */
  markStarted(id: number): number {
    this.#free ??= Array.from({ length: STARTED_CAPACITY }, (_, i) => STARTED_CAPACITY - 1 - i);
    const entry = this.#free.pop();
    if (entry === undefined) return -1;
    this.#started[entry] = id;
    return entry;
  }

  /** Worker: frees an entry (StartedTable decides when). */
  release(entry: number): void {
    this.#started[entry] = 0;
    this.#free!.push(entry);
  }

  /** Main, after the worker has exited: the ids of tasks it had started and not yet reported. */
  startedIds(): Set<number> {
    const ids = new Set<number>();
    for (const id of this.#started) if (id !== 0) ids.add(id);
    return ids;
  }
}
