import { afterAll, describe, expect, it } from 'vitest';
import { Gate, controlPool, keysOnSameShard, outcome } from './helpers.ts';

describe('a hung session start', () => {
  const pool = controlPool({ shards: 2 });
  afterAll(() => pool.close({ force: true }));

  it('blocks only its own key: a key on the same shard completes, and cancel(A) frees A', async () => {
    const [a, b] = keysOnSameShard(pool, 2, 'thread');
    expect(pool.shardOf(a!)).toBe(pool.shardOf(b!));
    const started = new Gate();

    // A's first task (a session start) never settles and ignores its signal.
    const hungStart = outcome(pool.run(a!, { op: 'hang', startedGate: started.buffer, startedSlot: 0 }));
    await started.reached(0);
    // A's second task waits behind the first.
    const aSecond = outcome(pool.run(a!, { op: 'echo', value: 'a-2', startedGate: started.buffer, startedSlot: 1 }));

    // B, on the same worker, completes promptly.
    expect(await pool.run(b!, { op: 'echo', value: 'b' })).toMatchObject({ value: 'b' });
    expect(await pool.run(b!, { op: 'echo', value: 'b-again' })).toMatchObject({ value: 'b-again' });
    expect(started.value(1)).toBe(0);
    const shard = pool.stats().shards[pool.shardOf(a!)]!;
    expect(shard.running).toBe(1);
    expect(shard.queued).toBe(1);

    // Stop gets through: cancel A, then a new task for A runs.
    expect(pool.cancel(a!, 'session stop')).toBe(2);
    const [first, second] = await Promise.all([hungStart, aSecond]);
    expect(first.ok || first.error.code).toBe('ERR_LANE_CANCELLED');
    expect(second.ok || second.error.code).toBe('ERR_LANE_CANCELLED');
    expect(await pool.run(a!, { op: 'echo', value: 'stopped' })).toMatchObject({ value: 'stopped' });
    expect(started.value(1)).toBe(0); // the cancelled queued task never ran
    expect(pool.stats().abandoned).toBe(1); // the hung handler is still out there, counted
  });
});
