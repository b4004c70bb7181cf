/**
 * Decides which partitions this instance consumes, and keeps their leases.
 *
 * - **Renewal**, per held lease: a loop sends a renewal every quarter of the lease TTL (at most
 *   every second), or at once when the previous one came back late; one request is in flight per
 *   lease, so revisions never race. It runs until the lease is deleted, so a partition draining at
 *   shutdown stays ours while it drains.
 * - **Fence**, per held lease: the lease counts as ours until three quarters of the TTL after the
 *   last successful renewal was *sent*, by the monotonic clock. Past that, the partition is given up
 *   at once (its intents cancelled, unacknowledged), before the server can expire the lease and hand
 *   it to someone else. A timer fires at that moment; and because timers fire late after a pause
 *   (SIGSTOP, a blocked event loop) while the clock does not, the partition also asks `holds()`
 *   synchronously before every start, record write and ack, and stops the instant it says no.
 *   Renewals slower than about 3/8 of the TTL trip it even when they succeed.
 * - **Assignment**, a tick every quarter TTL (at most every second), ticks never overlapping:
 *   renews membership, computes the target set (the `--partitions` list, or this instance's share
 *   of `assignPartitions(P, members)`), hands over held partitions outside it (drain, then delete
 *   the lease) and takes free ones inside it (create the lease, recreate the consumer, consume).
 *
 * Invariant: a partition is consumed here only while this instance holds its lease, and a partition
 * being handed over is not taken again until its previous hold has fully stopped.
 */
import { assignPartitions } from './assignment.ts';
import type { Leases } from './leases.ts';
import type { Fence, PartitionLog } from './hold.ts';
import { OwnedPartition, type PartitionDeps } from './partition.ts';

/** Where in the lease TTL, counted from the last renewal sent, a hold stops counting as ours. */
const FENCE_AT = 0.75;

export interface CoordinatorOptions {
  leases: Leases;
  partitions: number;
  /** `--partitions`: a fixed list; undefined shares all partitions among the live instances. */
  fixed: number[] | undefined;
  leaseTtlMs: number;
  handoffTimeoutMs: number;
  deps: Omit<PartitionDeps, 'onBroken' | 'fence'>;
  log: PartitionLog & { error(data: object, message: string): void };
}

interface Hold {
  partition: OwnedPartition;
  revision: number;
  /** When the request behind the last successful renewal (or the take) was sent, by `performance.now()`. */
  renewedAt: number;
  /** The renewal in flight, if any; it never rejects. */
  renewing: Promise<void> | undefined;
  /** Fires at `FENCE_AT` of the TTL after `renewedAt`. */
  fence: NodeJS.Timeout | undefined;
  /** Renewals are over: the lease is lost, or about to be deleted. */
  final: boolean;
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
  /** Partitions taken since start. */
  takeovers = 0;
  /** Leases given up because they could not be renewed in time, or were found taken. */
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
   * Leaves: withdraws membership, hands every partition over (each drains for up to `graceMs`,
   * its lease still renewed meanwhile), and deletes the leases, so the survivors take over without
   * waiting for the TTL.
   */
  async stop(graceMs: number): Promise<void> {
    await this.quiesce();
    await this.handOverAll(graceMs);
  }

  /** The first half of `stop`: takes no more partitions (waits for a tick under way) and withdraws membership. */
  async quiesce(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#ticking;
    if (this.#o.fixed === undefined) await this.#o.leases.withdraw().catch(() => {});
  }

  /** The second half of `stop`: hands every held partition over, each draining for up to `graceMs`. */
  async handOverAll(graceMs: number): Promise<void> {
    await Promise.all([...this.#holds.keys()].map((p) => this.#leave(p, graceMs, true)));
  }

  /** Stops every timer and renewal at once, whatever is still draining: for a stop that ran out of time. */
  halt(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    for (const hold of this.#holds.values()) {
      this.#finalize(hold);
      hold.partition.abandon();
    }
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

  /** Renews `hold`'s lease until it is final: every tick, or at once after a renewal that came back late. */
  async #keepRenewing(p: number, hold: Hold): Promise<void> {
    while (!hold.final) {
      const sentAt = performance.now();
      hold.renewing = this.#renew(p, hold, sentAt);
      await hold.renewing;
      hold.renewing = undefined;
      const wait = sentAt + this.tickMs - performance.now();
      if (wait > 0 && !hold.final) await new Promise((resolve) => setTimeout(resolve, wait).unref());
    }
  }

  async #renew(p: number, hold: Hold, sentAt: number): Promise<void> {
    try {
      const revision = await this.#o.leases.renew(p, hold.revision);
      if (revision === undefined) {
        if (!hold.final) this.#lose(p, hold, 'lease lost: giving the partition up');
        return;
      }
      hold.revision = revision;
      hold.renewedAt = sentAt;
      this.#armFence(p, hold);
    } catch (error) {
      // The server is unreachable; the fence gives the lease up before it can expire.
      this.#o.log.warn({ partition: p, err: error }, 'could not renew the lease; retrying');
    }
  }

  #armFence(p: number, hold: Hold): void {
    clearTimeout(hold.fence);
    if (hold.final) return;
    const delay = hold.renewedAt + this.#o.leaseTtlMs * FENCE_AT - performance.now();
    hold.fence = setTimeout(() => {
      if (!hold.final) this.#lose(p, hold, 'lease not renewed in time: giving the partition up');
    }, Math.max(0, delay));
  }

  /**
   * The fence, read synchronously: true while `hold` is live and within `FENCE_AT` of the TTL of its
   * last renewal. The first call to find it lapsed finalizes the hold at once (so every later call
   * says no) and gives the partition up, whether or not the timer has fired yet.
   */
  #stillHeld(p: number, hold: Hold): boolean {
    if (hold.final) return false;
    if (performance.now() < hold.renewedAt + this.#o.leaseTtlMs * FENCE_AT) return true;
    this.#finalize(hold);
    // Not from inside the partition's own call: it returns first, then the partition is released.
    queueMicrotask(() => this.#lose(p, hold, 'lease lapsed (the fence timer was late): giving the partition up'));
    return false;
  }

  /** No more renewals of this hold's lease. */
  #finalize(hold: Hold): void {
    hold.final = true;
    clearTimeout(hold.fence);
  }

  /** The lease is (or may soon be) someone else's: stop at once, whatever is draining, and keep the lease. */
  #lose(p: number, hold: Hold, message: string): void {
    this.#finalize(hold);
    this.lost++;
    this.#o.log.warn({ partition: p }, message);
    void hold.partition.release(0);
    void this.#leave(p, 0, false);
  }

  async #take(p: number): Promise<void> {
    const sentAt = performance.now();
    const revision = await this.#o.leases.acquire(p);
    if (revision === undefined) return;
    const fence: Fence = { token: revision, holds: () => this.#stillHeld(p, hold) };
    const partition: OwnedPartition = new OwnedPartition(p, { ...this.#o.deps, fence, onBroken: (error) => this.#broken(p, partition, error) });
    const hold: Hold = { partition, revision, renewedAt: sentAt, renewing: undefined, fence: undefined, final: false, leaving: undefined };
    this.#holds.set(p, hold);
    this.#armFence(p, hold);
    void this.#keepRenewing(p, hold);
    try {
      // False if the partition was given up while starting (its lease fenced): nothing was consumed.
      if (!await partition.start()) return;
      this.takeovers++;
      this.#o.log.info({ partition: p }, 'partition taken');
    } catch (error) {
      this.#o.log.error({ partition: p, err: error }, 'could not start consuming the partition; releasing it');
      void this.#leave(p, 0, true);
    }
  }

  /** The partition's consumer stopped on its own: hand it over; a later tick takes it again if it is still ours to take. */
  #broken(p: number, partition: OwnedPartition, error: unknown): void {
    if (this.#holds.get(p)?.partition !== partition) return; // an earlier hold of p, already gone
    this.#o.log.error({ partition: p, err: error }, 'the partition\'s consumer stopped; releasing the partition');
    void this.#leave(p, this.#o.handoffTimeoutMs, true);
  }

  /**
   * Stops consuming `p` (draining for up to `graceMs`), then deletes the lease if it is still ours.
   * The lease is renewed until then; the delete waits for a renewal in flight, so it names the
   * lease's current revision.
   */
  #leave(p: number, graceMs: number, releaseLease: boolean): Promise<void> {
    const hold = this.#holds.get(p);
    if (hold === undefined) return Promise.resolve();
    hold.leaving ??= (async () => {
      await hold.partition.release(graceMs);
      const release = releaseLease && !hold.final;
      this.#finalize(hold);
      if (release) {
        await hold.renewing; // bounded by the client's request timeout
        await this.#o.leases.release(p, hold.revision).catch((error: unknown) => {
          this.#o.log.warn({ partition: p, err: error }, 'could not delete the lease; it expires after its TTL');
        });
        this.#o.log.info({ partition: p }, 'partition handed over');
      }
      this.#holds.delete(p);
    })();
    return hold.leaving;
  }
}
