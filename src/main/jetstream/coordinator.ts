/**
 * Decides which partitions this instance consumes, and keeps their leases.
 *
 * Every tick (a quarter of the lease TTL, at most a second), one after another, never overlapping:
 *   1. renew membership (dynamic mode) and every held lease; a lease that cannot be renewed in time
 *      is given up at once (its tasks cancelled, unacknowledged), before the server can expire it
 *      and hand it to someone else;
 *   2. compute the target set: the `--partitions` list, or this instance's share of
 *      `assignPartitions(P, members)`;
 *   3. hand over held partitions outside the target (drain, then delete the lease), and take free
 *      ones inside it (create the lease, recreate the consumer, consume).
 *
 * Invariant: a partition is consumed here only while this instance holds its lease, and a partition
 * being handed over is not taken again until its previous hold has fully stopped.
 */
import { assignPartitions } from './assignment.ts';
import type { Leases } from './leases.ts';
import { OwnedPartition, type PartitionDeps, type PartitionLog } from './partition.ts';

export interface CoordinatorOptions {
  leases: Leases;
  partitions: number;
  /** `--partitions`: a fixed list; undefined shares all partitions among the live instances. */
  fixed: number[] | undefined;
  leaseTtlMs: number;
  handoffTimeoutMs: number;
  deps: PartitionDeps;
  log: PartitionLog & { error(data: object, message: string): void };
}

interface Hold {
  partition: OwnedPartition;
  revision: number;
  renewedAt: number;
  /** Set once the partition is being handed over or given up. */
  leaving: Promise<void> | undefined;
}

export class Coordinator {
  readonly #o: CoordinatorOptions;
  readonly #holds = new Map<number, Hold>();
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #ticking: Promise<void> = Promise.resolve();
  #firstTick: Promise<void>;
  /** Partitions taken over since start, for the figures script and tests. */
  takeovers = 0;
  lost = 0;

  constructor(options: CoordinatorOptions) {
    this.#o = options;
    this.#firstTick = this.#schedule(0);
  }

  /** Often enough to renew well within the TTL, and at least every second so joins and handovers are prompt. */
  get tickMs(): number {
    return Math.max(50, Math.min(1000, Math.floor(this.#o.leaseTtlMs / 4)));
  }

  /** Resolves after the first tick (membership announced, free partitions taken). */
  ready(): Promise<void> {
    return this.#firstTick;
  }

  /** Partitions consumed here right now. */
  owned(): number[] {
    return [...this.#holds].filter(([, hold]) => hold.leaving === undefined && hold.partition.state === 'consuming').map(([p]) => p).sort((a, b) => a - b);
  }

  /** Unacknowledged intents across held partitions. */
  inflight(): number {
    let total = 0;
    for (const hold of this.#holds.values()) total += hold.partition.inflight;
    return total;
  }

  /**
   * Leaves: withdraws membership, hands every partition over (each drains for up to `graceMs`),
   * and deletes the leases, so the survivors take over without waiting for the TTL.
   */
  async stop(graceMs: number): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#ticking;
    if (this.#o.fixed === undefined) await this.#o.leases.withdraw().catch(() => {});
    await Promise.all([...this.#holds.keys()].map((p) => this.#leave(p, graceMs, true)));
  }

  #schedule(delayMs: number): Promise<void> {
    return new Promise((resolve) => {
      this.#timer = setTimeout(() => {
        this.#ticking = this.#tick().catch((error: unknown) => this.#o.log.error({ err: error }, 'partition coordination failed; retrying'));
        void this.#ticking.then(() => {
          resolve();
          if (!this.#stopped) void this.#schedule(this.tickMs);
        });
      }, delayMs);
    });
  }

  async #tick(): Promise<void> {
    const { leases, fixed, partitions } = this.#o;
    await this.#renew();
    if (this.#stopped) return;
    let target: Set<number>;
    if (fixed !== undefined) {
      target = new Set(fixed);
    } else {
      await leases.announce();
      const assignment = assignPartitions(partitions, await leases.members());
      target = new Set([...assignment].filter(([, owner]) => owner === leases.instance).map(([p]) => p));
    }
    for (const [p, hold] of this.#holds) {
      if (!target.has(p) && hold.leaving === undefined) void this.#leave(p, this.#o.handoffTimeoutMs, true);
    }
    for (const p of target) {
      if (this.#stopped) return;
      if (!this.#holds.has(p)) await this.#take(p);
    }
  }

  async #renew(): Promise<void> {
    const { leases, leaseTtlMs, log } = this.#o;
    await Promise.all([...this.#holds].map(async ([p, hold]) => {
      try {
        const revision = await leases.renew(p, hold.revision);
        if (revision === undefined) {
          this.lost++;
          log.warn({ partition: p }, 'lease lost: giving the partition up');
          void this.#leave(p, 0, false);
          return;
        }
        hold.revision = revision;
        hold.renewedAt = Date.now();
      } catch (error) {
        // Cannot reach the server: stop before the lease can expire and be taken by someone else.
        if (Date.now() - hold.renewedAt > leaseTtlMs * 0.75) {
          this.lost++;
          log.warn({ partition: p, err: error }, 'lease not renewed in time: giving the partition up');
          void this.#leave(p, 0, false);
        }
      }
    }));
  }

  async #take(p: number): Promise<void> {
    const revision = await this.#o.leases.acquire(p);
    if (revision === undefined) return;
    const partition = new OwnedPartition(p, this.#o.deps);
    const hold: Hold = { partition, revision, renewedAt: Date.now(), leaving: undefined };
    this.#holds.set(p, hold);
    try {
      await partition.start();
      this.takeovers++;
      this.#o.log.info({ partition: p }, 'partition taken');
    } catch (error) {
      this.#o.log.error({ partition: p, err: error }, 'could not start consuming the partition; releasing it');
      void this.#leave(p, 0, true);
    }
  }

  /** Stops consuming `p` (draining for up to `graceMs`), then deletes the lease if it is still ours. */
  #leave(p: number, graceMs: number, releaseLease: boolean): Promise<void> {
    const hold = this.#holds.get(p);
    if (hold === undefined) return Promise.resolve();
    hold.leaving ??= (async () => {
      await hold.partition.release(graceMs);
      if (releaseLease) await this.#o.leases.release(p, hold.revision).catch(() => {});
      this.#holds.delete(p);
      if (releaseLease) this.#o.log.info({ partition: p }, 'partition handed over');
    })();
    return hold.leaving;
  }
}
