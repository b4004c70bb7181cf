/**
 * Intent status and results in a JetStream KV bucket, readable from every instance. Each record is
 * written by one party at a time: the front creates it `queued` (create fails if the intentId was
 * used), then only the partition's lease holder writes `running` and the settled outcome. Records
 * expire `retentionMs` after their last write (the bucket's TTL).
 *
 * Fencing: every write after the create is a compare-and-set on the revision the writer last saw
 * (`update`), so an owner that lost its partition without noticing (paused, cut off) cannot
 * overwrite what the next owner wrote: its write fails instead. A settled record is therefore never
 * written again. Each write also carries the writing hold's lease revision (`lease`), so a reader
 * can tell which hold wrote it.
 *
 * The settled record doubles as the completed-intent record: a replayed intent whose record is
 * settled is acknowledged without running again.
 */
import { nanos, type KV, type NatsConnection } from 'nats';
import { RECORD_ERRORS, isSettled, type IntentRecord } from '../service/records.ts';
import { isWrongRevision, jetStreamCall } from './nats-errors.ts';
import { PubAckRefused, PubAcks } from './pub-acks.ts';
import type { Topology } from './topology.ts';

/**
 * A record as this bucket holds it: the service's one record type (what `GET /v1/intents/:id`
 * answers), in which JetStream mode always sets `partition` and `attempt` (0 while queued), and a
 * partition's holder sets `instance`, `shard` and `lease` when it writes.
 */
export type StoredIntent = IntentRecord & { partition: number; attempt: number };

/** A record with the KV revision it was read at: what a compare-and-set names. */
export interface Versioned {
  record: StoredIntent;
  revision: number;
}

export type UpdateResult =
  | { ok: true; revision: number }
  /** Someone else wrote the record since `revision` (or it expired): `current` is what is there now. */
  | { ok: false; current: Versioned | undefined };

const encoder = new TextEncoder();

/** JetStream's error code for a write whose expected last subject sequence was not the stream's. */
const WRONG_LAST_SEQUENCE = 10071;

/** KV keys allow [-/_=.A-Za-z0-9] with no empty tokens; intentIds may hold ':' and any dots. */
export function storeKey(intentId: string): string {
  return intentId.replace(/[.:=]/g, (c) => `=${c.charCodeAt(0).toString(16)}`);
}

export class IntentStore {
  readonly #kv: KV;
  /** Writes go through the connection's pipelined publishes (pub-acks.ts); reads, watches and the rare fallbacks through `#kv`. */
  readonly #acks: PubAcks;
  /** The subject prefix of the bucket's keys, as the client's KV writes them. */
  readonly #subjects: string;

  private constructor(kv: KV, acks: PubAcks, bucket: string) {
    this.#kv = kv;
    this.#acks = acks;
    this.#subjects = `$KV.${bucket}.`;
  }

  /**
   * Opens the bucket: a service instance creates it if needed, keeping records for `retentionMs`
   * after their last write (and sets that retention on an existing bucket, so changing
   * `--records-max-age-ms` takes effect); a publisher (`retentionMs` undefined) binds to the existing one.
   */
  static async open(nc: NatsConnection, topo: Topology, retentionMs: number | undefined, log?: { warn(data: object, message: string): void }): Promise<IntentStore> {
    const js = nc.jetstream();
    const options = retentionMs === undefined ? { bindOnly: true } : { history: 1, ttl: retentionMs };
    const kv = await jetStreamCall('intent bucket', () => js.views.kv(topo.intentBucket, options));
    if (retentionMs !== undefined) {
      const { ttl, streamInfo } = await jetStreamCall('intent bucket', () => kv.status());
      if (ttl !== retentionMs) {
        log?.warn({ bucket: topo.intentBucket, was: ttl, now: retentionMs }, 'intent record retention changed (--records-max-age-ms)');
        const config = streamInfo.config;
        await jetStreamCall('intent bucket', async () => (await js.jetstreamManager()).streams.update(config.name, {
          ...config,
          max_age: nanos(retentionMs),
          duplicate_window: Math.min(config.duplicate_window, nanos(retentionMs)),
        }));
      }
    }
    return new IntentStore(kv, PubAcks.of(nc), topo.intentBucket);
  }

  /**
   * Writes `text` under `key` if the key's last revision is `previous` (0: if it has none), as the
   * client's `kv.update` does, through the pipelined publishes: its new revision.
   * @throws PubAckRefused (`WRONG_LAST_SEQUENCE`) if the key moved; another error if the server did not answer.
   */
  async #put(key: string, text: string, previous: number): Promise<number> {
    const ack = await this.#acks.publish(this.#subjects + key, text, { 'Nats-Expected-Last-Subject-Sequence': String(previous) });
    return ack.seq;
  }

  /**
   * Creates `key`: its revision. A key whose last entry is a delete marker (a record removed after a
   * failed publish) counts as absent, as the client's `kv.create` has it; that rare case takes the
   * client's own path, which reads the marker first.
   */
  async #create(key: string, text: string): Promise<number> {
    try {
      return await this.#put(key, text, 0);
    } catch (error) {
      if (!(error instanceof PubAckRefused && error.errCode === WRONG_LAST_SEQUENCE)) throw error;
    }
    return this.#kv.create(key, encoder.encode(text));
  }

  async get(intentId: string): Promise<StoredIntent | undefined> {
    return (await this.read(intentId))?.record;
  }

  /** The record with its revision, for a compare-and-set to follow. */
  async read(intentId: string): Promise<Versioned | undefined> {
    const entry = await jetStreamCall('intent read', () => this.#kv.get(storeKey(intentId)));
    if (entry === null || entry.operation !== 'PUT') return undefined;
    return { record: entry.json<StoredIntent>(), revision: entry.revision };
  }

  /** Writes a new record (returning its revision); returns the existing one instead if the intentId is taken. */
  async create(record: StoredIntent): Promise<{ created: true; revision: number } | { created: false; existing: Versioned | undefined }> {
    try {
      const revision = await jetStreamCall('intent create', () => this.#create(storeKey(record.intentId), JSON.stringify(record)));
      return { created: true, revision };
    } catch (error) {
      if (!isWrongRevision(error)) throw error;
      return { created: false, existing: await this.read(record.intentId) };
    }
  }

  /**
   * Writes `record` if the stored one is still at `revision` (undefined: only if there is none, as
   * after it expired). A result too large for the NATS server's max_payload is left out and replaced
   * by an `ERR_RESULT_TOO_LARGE` error on the record: the intent still settles (and is acknowledged)
   * instead of retrying a write that can never succeed.
   *
   * A write of ours that landed although its reply was lost (a timeout, then this retry) is
   * recognised by its content and counts as done.
   * @throws JetStreamError if the server cannot be reached: the write may or may not have landed.
   */
  async update(record: StoredIntent, revision: number | undefined): Promise<UpdateResult> {
    const text = JSON.stringify(record);
    const key = storeKey(record.intentId);
    try {
      const written = await jetStreamCall('intent write', () => revision === undefined ? this.#create(key, text) : this.#put(key, text, revision));
      return { ok: true, revision: written };
    } catch (error) {
      if (record.result !== undefined && error instanceof Error && /MAX_PAYLOAD_EXCEEDED/.test(error.message)) {
        const { result: _dropped, ...rest } = record;
        const message = `the result was not stored: the record is ${Buffer.byteLength(text)} bytes as JSON, over the NATS server's max_payload`;
        return this.update({ ...rest, error: { code: RECORD_ERRORS.resultTooLarge, message } }, revision);
      }
      if (!isWrongRevision(error)) throw error;
    }
    const current = await this.read(record.intentId);
    if (current !== undefined && JSON.stringify(current.record) === text) return { ok: true, revision: current.revision };
    return { ok: false, current };
  }

  /**
   * Forgets a record whose publish failed, unless it changed since `revision`: then the publish did
   * land after all and a consumer has written to it, and it must stay.
   */
  async remove(intentId: string, revision: number): Promise<void> {
    await jetStreamCall('intent delete', () => this.#kv.delete(storeKey(intentId), { previousSeq: revision }));
  }

  /**
   * Resolves with the record once it is settled, wherever it runs; at once if it already is.
   * Resolves undefined if the record disappears (expired) or `signal` fires first.
   */
  async whenSettled(intentId: string, signal: AbortSignal): Promise<StoredIntent | undefined> {
    const watch = await jetStreamCall('intent watch', () => this.#kv.watch({ key: storeKey(intentId) }));
    const stop = (): void => watch.stop();
    if (signal.aborted) stop(); // aborted while the watch was being set up: no event will come
    signal.addEventListener('abort', stop, { once: true });
    try {
      for await (const entry of watch) {
        if (entry.operation !== 'PUT') return undefined;
        const record = entry.json<StoredIntent>();
        if (isSettled(record)) return record;
      }
      return undefined;
    } finally {
      signal.removeEventListener('abort', stop);
      watch.stop();
    }
  }
}
