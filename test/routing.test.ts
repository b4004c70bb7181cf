import { afterAll, describe, expect, it } from 'vitest';
import { fnv1a32, jumpHash, shardFor } from '../src/main/index.ts';
import { controlPool } from './helpers.ts';

/** The reference algorithm (Lamping & Veach 2014) transcribed with BigInt, to check the 32-bit-halves version. */
function referenceJump(key: bigint, buckets: number): number {
  let b = -1n;
  let j = 0n;
  while (j < BigInt(buckets)) {
    b = j;
    key = BigInt.asUintN(64, key * 2862933555777941757n + 1n);
    j = BigInt(Math.floor(Number(b + 1n) * (2 ** 31 / (Number(key >> 33n) + 1))));
  }
  return Number(b);
}

describe('routing', () => {
  it('hashes the UTF-8 bytes with FNV-1a 32-bit', () => {
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
    expect(fnv1a32('foobar')).toBe(0xbf9cf968);
    // 'é' is the two bytes c3 a9; a non-ASCII key must hash its bytes, not its UTF-16 units.
    expect(fnv1a32('é')).toBe(0x1e9de8c1);
  });

  it('computes the same jump hash as the 64-bit reference algorithm', () => {
    let seed = 12345;
    for (let i = 0; i < 20_000; i++) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      const buckets = 1 + (i % 257);
      expect(jumpHash(seed, buckets)).toBe(referenceJump(BigInt(seed), buckets));
    }
  });

  it('moves only about 1/(n+1) of the keys, all to the new shard, when a shard is added', () => {
    const keys = Array.from({ length: 20_000 }, (_, i) => `thread-${i}`);
    for (const n of [1, 2, 4, 7]) {
      let moved = 0;
      for (const key of keys) {
        const before = shardFor(key, n);
        const after = shardFor(key, n + 1);
        if (before !== after) {
          moved++;
          expect(after).toBe(n);
        }
      }
      const expected = keys.length / (n + 1);
      expect(Math.abs(moved - expected)).toBeLessThan(expected * 0.1);
    }
  });

  it('spreads keys evenly over the shards', () => {
    const counts = new Array<number>(8).fill(0);
    for (let i = 0; i < 80_000; i++) counts[shardFor(`t-${i}`, 8)]!++;
    for (const count of counts) expect(Math.abs(count - 10_000)).toBeLessThan(500);
  });
});

describe('shardOf', () => {
  const pool = controlPool({ shards: 3 });
  afterAll(() => pool.close({ force: true }));

  it('is pure and matches the shard that actually runs the key', async () => {
    for (let i = 0; i < 30; i++) {
      const key = `thread-${i}`;
      expect(pool.shardOf(key)).toBe(shardFor(key, 3));
      expect(pool.shardOf(key)).toBe(pool.shardOf(key));
      const reply = (await pool.run(key, { op: 'echo' })) as { shard: number };
      expect(reply.shard).toBe(pool.shardOf(key));
    }
  });
});
