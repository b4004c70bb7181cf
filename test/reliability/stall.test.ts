import { afterAll, describe, expect, it } from 'vitest';
import { ShardRestartedError } from '../../src/main/index.ts';
import { Gate, controlPool, keysOnSameShard, outcome, until } from '../helpers.ts';

describe('a handler that spins forever', () => {
  const pool = controlPool({ shards: 2, stallTimeoutMs: 500 });
  afterAll(() => pool.close({ force: true }));

  it('stalls only until the watchdog replaces its worker: the shard\'s other keys then resume in order', async () => {
    await pool.ready();
    const [a, b, c] = keysOnSameShard(pool, 3, 'stall');
    const shard = pool.shardOf(a!);
    const other = ['x', 'y', 'z', 'w'].map((p) => `other-${p}`).find((k) => pool.shardOf(k) !== shard)!;
    const gate = new Gate();

    // B's first task is running (started) when A's handler starts spinning.
    const bRunning = outcome(pool.run(b!, { op: 'gate', gate: gate.buffer, slot: 0, startedGate: gate.buffer, startedSlot: 1 }));
    await gate.reached(1);
    const spinning = outcome(pool.run(a!, { op: 'spin', startedGate: gate.buffer, startedSlot: 2 }));
    await gate.reached(2);
    // Sent while the worker is frozen: not started, so they must be replayed, in order.
    const bQueued = pool.run(b!, { op: 'echo', value: 'b-2' });
    const cTasks = [0, 1, 2, 3, 4].map((seq) => pool.run(c!, { op: 'record', seq }) as Promise<{ seq: number; overlapped: boolean }>);
    // Another shard is not affected at all.
    expect(await pool.run(other, { op: 'echo', value: 'elsewhere' })).toMatchObject({ value: 'elsewhere' });

    const spun = await spinning;
    expect(spun.ok || spun.error).toBeInstanceOf(ShardRestartedError);
    expect(spun.ok || spun.error).toMatchObject({ code: 'ERR_SHARD_RESTARTED', reason: 'stall', shard, key: a });
    const held = await bRunning;
    expect(held.ok || held.error).toMatchObject({ code: 'ERR_SHARD_RESTARTED', reason: 'stall', key: b });
    expect(await bQueued).toMatchObject({ value: 'b-2' });
    const results = await Promise.all(cTasks);
    expect(results.map((r) => r.seq)).toEqual([0, 1, 2, 3, 4]);
    expect(results.some((r) => r.overlapped)).toBe(false);

    const stats = pool.stats().shards[shard]!;
    expect(stats.restartsByReason).toEqual({ stall: 1, crash: 0, oom: 0 });
    expect(stats.replayed).toBe(6);
    await until(() => pool.stats().shards[shard]!.state === 'ready');
    expect(await pool.run(a!, { op: 'echo', value: 'a again' })).toMatchObject({ value: 'a again' });
  });
});
