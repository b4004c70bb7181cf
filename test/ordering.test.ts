import { afterAll, describe, expect, it } from 'vitest';
import { controlPool } from './helpers.ts';

describe('ordering', () => {
  const pool = controlPool({ shards: 2 });
  afterAll(() => pool.close({ force: true }));

  it('runs the tasks of one key one at a time, in run() order, under interleaved submission', async () => {
    const keys = Array.from({ length: 60 }, (_, i) => `thread-${i}`);
    const perKey = 40;
    const settledOrder = new Map<string, number[]>(keys.map((k) => [k, []]));
    const all: Promise<unknown>[] = [];
    // Interleave: seq 0 of every key, then seq 1 of every key, and so on.
    for (let seq = 0; seq < perKey; seq++) {
      for (const key of keys) {
        const p = pool.run(key, { op: 'record', seq, yields: 1 + (seq % 3) }) as Promise<{ seq: number; overlapped: boolean }>;
        all.push(p.then((r) => {
          expect(r.overlapped).toBe(false);
          expect(r.seq).toBe(seq);
          settledOrder.get(key)!.push(r.seq);
        }));
      }
    }
    await Promise.all(all);
    for (const key of keys) expect(settledOrder.get(key)).toEqual(Array.from({ length: perKey }, (_, i) => i));
    expect(pool.stats().completed).toBe(keys.length * perKey);
  });

  it('runs different keys concurrently: a key never waits for another key to finish', async () => {
    const keys = Array.from({ length: 200 }, (_, i) => `concurrent-${i}`);
    // Each task yields several times; if keys ran one after another in a shard, none would overlap.
    const results = await Promise.all(keys.map((key) => pool.run(key, { op: 'record', seq: 0, yields: 5 })));
    expect(results).toHaveLength(200);
    const worker = await pool.inspect();
    expect(worker.every((s) => s?.lanes === 0)).toBe(true);
  });
});
