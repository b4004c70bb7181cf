/**
 * The stall watchdog. A worker whose event loop is blocked (a CPU loop, a blocking call) stops
 * bumping its heartbeat in shared memory; the main thread reads that counter without a round trip,
 * and a shard whose counter has not moved for `stallTimeoutMs` is declared stalled and restarted.
 * One timer serves every shard, and it does not keep the process alive.
 *
 * A worker inside postMessage cannot beat either: structured clone of a large result runs there,
 * synchronously. It is excused for up to POSTING_GRACE times `stallTimeoutMs`, not forever, because
 * an own getter in the result runs user code during the clone, and that code may loop forever too.
 */
export interface Watched {
  /** The heartbeat counter, or undefined while the shard has no ready worker. */
  heartbeat(): number | undefined;
  /** True while the worker is inside a postMessage (see POSTING_SLOT in protocol.ts). */
  posting(): boolean;
  /** Stops the worker; `detail` says why, for ShardRestartedError and the restart event. */
  stall(detail: string): void;
}

/** How many times `stallTimeoutMs` a worker may spend inside one postMessage before it counts as stalled. */
export const POSTING_GRACE = 10;

export class Watchdog {
  readonly #timer: NodeJS.Timeout;
  readonly #last: { beat: number | undefined; since: number }[];

  constructor(shards: readonly Watched[], stallTimeoutMs: number) {
    this.#last = shards.map(() => ({ beat: undefined, since: Date.now() }));
    this.#timer = setInterval(() => {
      const now = Date.now();
      shards.forEach((shard, i) => {
        const beat = shard.heartbeat();
        const last = this.#last[i]!;
        if (beat === undefined || beat !== last.beat) {
          // Not ready (nothing to watch), or alive: restart the clock.
          last.beat = beat;
          last.since = now;
        } else if (now - last.since >= stallTimeoutMs) {
          const silent = now - last.since;
          const posting = shard.posting();
          if (posting && silent < stallTimeoutMs * POSTING_GRACE) return;
          last.beat = undefined;
          last.since = now;
          shard.stall(posting ? `no heartbeat for ${silent} ms, all of it inside postMessage` : `no heartbeat for ${stallTimeoutMs} ms`);
        }
      });
    }, Math.max(5, Math.floor(stallTimeoutMs / 4)));
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}
