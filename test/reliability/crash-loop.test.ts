import { afterAll, describe, expect, it } from 'vitest';
import { controlPool } from '../helpers.ts';

describe('a shard that keeps dying', () => {
  const pool = controlPool({ shards: 2 });
  afterAll(() => pool.close({ force: true }));

  it('is held back with growing backoff, visible in stats, while the other shard keeps working', async () => {
    await pool.ready();
    const doomed = 'loop-key';
    const shard = pool.shardOf(doomed);
    const healthy = Array.from({ length: 20 }, (_, i) => `healthy-${i}`).find((k) => pool.shardOf(k) !== shard)!;
    const states = new Set<string>();
    for (let i = 0; i < 4; i++) {
      await expect(pool.run(doomed, { op: 'exit' })).rejects.toMatchObject({ code: 'ERR_SHARD_RESTARTED', reason: 'crash' });
      states.add(pool.stats().shards[shard]!.state);
      expect(await pool.run(healthy, { op: 'echo', value: i })).toMatchObject({ value: i });
    }
    expect(states).toContain('backoff');
    expect(pool.stats().shards[shard]!.restartsByReason.crash).toBe(4);
    expect(pool.stats().shards[1 - shard]!.restarts).toBe(0);
    // Once the backoff runs out, the shard serves again.
    expect(await pool.run(doomed, { op: 'echo', value: 'recovered' })).toMatchObject({ value: 'recovered' });
  });
});
