/** Shared test helpers: deterministic gates over shared memory, and key pickers. */
import { fileURLToPath } from 'node:url';
import { LanePool, type LanePoolOptions } from '../src/main/index.ts';

export const CONTROL = fileURLToPath(new URL('./fixtures/control.mjs', import.meta.url));
export const TYPED = fileURLToPath(new URL('./fixtures/typed.ts', import.meta.url));

/**
 * Counters in shared memory. A handler bumps or waits on a slot; the test opens a slot to release a
 * task, or waits until a handler has bumped one, so no test races a sleep.
 */
export class Gate {
  readonly buffer: SharedArrayBuffer;
  readonly #cells: Int32Array;

  constructor(slots = 16) {
    this.buffer = new SharedArrayBuffer(4 * slots);
    this.#cells = new Int32Array(this.buffer);
  }

  /** Releases every handler waiting on `slot`. */
  open(slot = 0): void {
    Atomics.store(this.#cells, slot, 1);
    Atomics.notify(this.#cells, slot);
  }

  value(slot = 0): number {
    return Atomics.load(this.#cells, slot);
  }

  /** Resolves once `slot` holds at least `count`; rejects after `timeoutMs` (a hang detector only). */
  async reached(slot = 0, count = 1, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const now = Atomics.load(this.#cells, slot);
      if (now >= count) return;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`gate slot ${slot} stayed at ${now}, expected ${count}`);
      const wait = Atomics.waitAsync(this.#cells, slot, now, left);
      if (wait.async) await wait.value;
    }
  }
}

/** `count` distinct keys that all route to the same shard. */
export function keysOnSameShard(pool: LanePool, count: number, prefix = 'key'): string[] {
  const byShard = new Map<number, string[]>();
  for (let i = 0; ; i++) {
    const key = `${prefix}-${i}`;
    const shard = pool.shardOf(key);
    const keys = byShard.get(shard) ?? [];
    keys.push(key);
    byShard.set(shard, keys);
    if (keys.length === count) return keys;
  }
}

/** A pool on the control fixture; the caller closes it. */
export function controlPool(options: Partial<LanePoolOptions> = {}): LanePool {
  return new LanePool({ handler: CONTROL, shards: 2, ...options });
}

/** Resolves once `check` returns true (it may be async); a hang detector, not a timer: fails after `timeoutMs`. */
export async function until(check: () => boolean | Promise<boolean>, what = 'the condition', timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  // Quick at first (most conditions hold within a few ms), then every 50 ms: a long wait (a JetStream
  // load, a round trip per check) must not load the machine the system under test runs on.
  for (let delay = 5; !(await check()); delay = Math.min(50, delay * 2)) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}

/** Resolves as `promise` does, or rejects if it has not settled within `timeoutMs`: a hang detector only. */
export async function settlesWithin<T>(promise: Promise<T>, what: string, timeoutMs = 20_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, hung]);
  } finally {
    clearTimeout(timer);
  }
}

/** Settles a promise into a plain record, so a test can assert on rejections without unhandled ones. */
export function outcome<T>(promise: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: Error & { code?: string } }> {
  return promise.then(
    (value) => ({ ok: true as const, value }),
    (error: Error) => ({ ok: false as const, error }),
  );
}
