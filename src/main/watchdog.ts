/**
 * The stall watchdog. A worker whose event loop is blocked (a CPU loop, a blocking call) stops
 * bumping its heartbeat in shared memory; the main thread reads that counter without a round trip,
 * and a shard whose counter has not moved for `stallTimeoutMs` is declared stalled and restarted.
 * One timer serves every shard, and it does not keep the process alive.
 */
export interface Watched {
  /** The heartbeat counter, or undefined while the shard has no ready worker. */
  heartbeat(): number | undefined;
  stall(): void;
}

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
          last.beat = undefined;
          last.since = now;
          shard.stall();
        }
      });
    }, Math.max(5, Math.floor(stallTimeoutMs / 4)));
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}
