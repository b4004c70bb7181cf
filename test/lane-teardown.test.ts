import { afterAll, describe, expect, it } from 'vitest';
import { controlPool } from './helpers.ts';

describe('lane teardown', () => {
  const pool = controlPool({ shards: 2, maxQueued: 200_000 });
  afterAll(() => pool.close({ force: true }));

  it('leaves no lane behind after 100,000 distinct keys, on the main thread or in the workers', async () => {
    const keys = 100_000;
    const runs: Promise<unknown>[] = [];
    for (let i = 0; i < keys; i++) runs.push(pool.run(`thread-${i}`, { op: 'add', n: i }));
    // Part of the way in, lanes exist for the keys still working.
    expect(pool.stats().lanes).toBeGreaterThan(0);
    const results = await Promise.all(runs);
    expect(results[99_999]).toBe(100_000);
    await pool.drain();
    const stats = pool.stats();
    expect(stats).toMatchObject({ lanes: 0, queued: 0, running: 0, completed: keys, failed: 0 });
    for (const worker of await pool.inspect()) expect(worker).toMatchObject({ lanes: 0, queued: 0, running: 0, abandoned: 0 });
  });
});
