import { afterAll, describe, expect, it } from 'vitest';
import { Gate, controlPool, until } from './helpers.ts';

describe('stats() timings', () => {
  const pool = controlPool({ shards: 2 });
  afterAll(() => pool.close({ force: true }));

  it('starts with empty distributions and zero utilization', () => {
    const stats = pool.stats();
    expect(stats.wait).toEqual({ count: 0, p50: 0, p99: 0, max: 0, mean: 0 });
    expect(stats.run.count).toBe(0);
    for (const shard of stats.shards) expect(shard.utilization).toBe(0);
  });

  it('counts wait and run per shard and pool-wide, with p50 <= p99 <= max', async () => {
    await Promise.all(Array.from({ length: 40 }, (_, i) => pool.run(`k${i}`, { op: 'add', n: i })));
    const stats = pool.stats();
    expect(stats.wait.count).toBe(40);
    expect(stats.run.count).toBe(40);
    expect(stats.shards.reduce((sum, s) => sum + s.run.count, 0)).toBe(40);
    for (const timing of [stats.wait, stats.run, ...stats.shards.map((s) => s.run)]) {
      if (timing.count === 0) continue;
      expect(timing.p50).toBeGreaterThan(0);
      expect(timing.p50).toBeLessThanOrEqual(timing.p99);
      expect(timing.p99).toBeLessThanOrEqual(timing.max);
    }
  });

  it('measures a task held in its handler as run time, and a task queued behind it as wait time', async () => {
    const gate = new Gate();
    const before = pool.stats();
    const first = pool.run('held', { op: 'gate', gate: gate.buffer, slot: 0 });
    const second = pool.run('held', { op: 'echo' });
    await until(() => pool.stats().running === 1);
    const heldFrom = performance.now();
    // Hold both for a span the histograms must show; only a lower bound is asserted.
    await until(() => performance.now() - heldFrom > 60);
    gate.open(0);
    await Promise.all([first, second]);
    const after = pool.stats();
    expect(after.run.count - before.run.count).toBe(2);
    expect(after.run.max).toBeGreaterThanOrEqual(50);
    expect(after.wait.max).toBeGreaterThanOrEqual(50);
    const shard = after.shards[pool.shardOf('held')]!;
    expect(shard.utilization).toBeGreaterThan(0);
    expect(shard.utilization).toBeLessThanOrEqual(1);
  });
});
