import { afterAll, describe, expect, it } from 'vitest';
import { controlPool, outcome } from '../helpers.ts';

describe('a worker posting a large result', () => {
  // Cloning a million objects takes far longer than 300 ms, all of it inside one postMessage.
  const pool = controlPool({ shards: 1, stallTimeoutMs: 300 });
  afterAll(() => pool.close({ force: true }));

  it('is not mistaken for a stall: the result arrives and the worker is not replaced', async () => {
    const count = 1_000_000;
    const items = (await pool.run('big', { op: 'big', count })) as { i: number }[];
    expect(items.length).toBe(count);
    expect(items[count - 1]).toEqual({ i: count - 1 });
    expect(pool.stats()).toMatchObject({ restarts: 0, completed: 1 });
    expect(await pool.run('big', { op: 'echo', value: 'after' })).toMatchObject({ value: 'after' });
  });

  it('is excused only for a while: a getter that spins during the clone is still caught as a stall', async () => {
    const spun = await outcome(pool.run('getter', { op: 'spin-in-getter' }));
    expect(spun.ok || spun.error).toMatchObject({ code: 'ERR_SHARD_RESTARTED', reason: 'stall', detail: expect.stringContaining('inside postMessage') });
    expect(await pool.run('getter', { op: 'echo', value: 'replaced' })).toMatchObject({ value: 'replaced' });
  });
});
