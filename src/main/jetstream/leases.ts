/**
 * Partition leases and instance membership in one JetStream KV bucket whose TTL is the lease TTL:
 *
 *   p.<N>         -> { owner }   taken with create (fails if held), renewed with compare-and-set
 *   m.<instance>  -> { at }      an instance is a member while it keeps renewing this key
 *
 * The server expires a key nobody renews, so a killed instance's leases and membership vanish after
 * one TTL without anyone's clock being trusted. A lease is held only through its revision: a renewal
 * that finds another revision means someone else owns the partition now, and the caller must stop.
 */
import type { JetStreamClient, KV } from 'nats';
import { ConfigError } from '../../shared/errors.ts';
import { isWrongRevision, jetStreamCall } from './nats-errors.ts';
import type { Topology } from './topology.ts';

const encoder = new TextEncoder();

export class Leases {
  readonly #kv: KV;
  readonly instance: string;

  private constructor(kv: KV, instance: string) {
    this.#kv = kv;
    this.instance = instance;
  }

  /**
   * Opens the bucket, creating it with `ttlMs` if needed. Every instance must use the bucket's TTL:
   * an instance fencing itself at three quarters of a longer TTL than the server's would overlap
   * the next owner.
   * @throws ConfigError if the bucket exists with another TTL.
   */
  static async open(js: JetStreamClient, topo: Topology, ttlMs: number, instance: string): Promise<Leases> {
    const kv = await jetStreamCall('lease bucket', () => js.views.kv(topo.leaseBucket, { history: 1, ttl: ttlMs }));
    const { ttl } = await jetStreamCall('lease bucket', () => kv.status());
    if (ttl !== ttlMs) {
      throw new ConfigError({
        detail: `invalid --lease-ttl-ms (LANEPOOL_LEASE_TTL_MS): bucket ${topo.leaseBucket} expires leases after ${ttl} ms, not ${ttlMs}; `
          + 'every instance must use the same lease TTL (to change it, stop every instance and delete the bucket)',
      });
    }
    return new Leases(kv, instance);
  }

  /** Marks this instance live (and renews that); call it every tick. */
  async announce(): Promise<void> {
    await jetStreamCall('membership', () => this.#kv.put(`m.${this.instance}`, encoder.encode(JSON.stringify({ at: new Date().toISOString() }))));
  }

  /** Leaves the membership at once, so the others rebalance without waiting for the TTL. */
  async withdraw(): Promise<void> {
    await jetStreamCall('membership', () => this.#kv.delete(`m.${this.instance}`));
  }

  /** The live instances, this one included once it has announced. */
  async members(): Promise<string[]> {
    const keys = await jetStreamCall('membership', () => this.#kv.keys('m.>'));
    const members: string[] = [];
    for await (const key of keys) members.push(key.slice(2));
    return members.sort();
  }

  /** The instance holding partition `p`'s lease, if any. */
  async owner(p: number): Promise<string | undefined> {
    const entry = await jetStreamCall('lease read', () => this.#kv.get(`p.${p}`));
    if (entry === null || entry.operation !== 'PUT') return undefined;
    return entry.json<{ owner: string }>().owner;
  }

  /** Takes partition `p` if nobody holds it: its revision, or undefined if it is held. */
  async acquire(p: number): Promise<number | undefined> {
    try {
      return await jetStreamCall('lease take', () => this.#kv.create(`p.${p}`, this.#value()));
    } catch (error) {
      if (isWrongRevision(error)) return undefined;
      throw error;
    }
  }

  /**
   * Extends a held lease: its new revision, or undefined if it was lost (expired and taken, or
   * deleted). A revision that moved because an earlier renewal of ours landed after its request
   * timed out is recognised by the owner in the value, and renewed from there.
   */
  async renew(p: number, revision: number): Promise<number | undefined> {
    try {
      return await jetStreamCall('lease renew', () => this.#kv.update(`p.${p}`, this.#value(), revision));
    } catch (error) {
      if (!isWrongRevision(error)) throw error;
    }
    const entry = await jetStreamCall('lease read', () => this.#kv.get(`p.${p}`));
    if (entry === null || entry.operation !== 'PUT' || entry.revision === revision) return undefined;
    if (entry.json<{ owner: string }>().owner !== this.instance) return undefined;
    try {
      return await jetStreamCall('lease renew', () => this.#kv.update(`p.${p}`, this.#value(), entry.revision));
    } catch (error) {
      if (isWrongRevision(error)) return undefined;
      throw error;
    }
  }

  /** Gives a held lease up, so the next owner need not wait for it to expire. */
  async release(p: number, revision: number): Promise<void> {
    await jetStreamCall('lease release', () => this.#kv.delete(`p.${p}`, { previousSeq: revision })).catch((error: unknown) => {
      if (!isWrongRevision(error)) throw error;
    });
  }

  #value(): Uint8Array {
    return encoder.encode(JSON.stringify({ owner: this.instance, at: new Date().toISOString() }));
  }
}
