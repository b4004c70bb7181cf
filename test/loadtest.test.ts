import { describe, expect, it } from 'vitest';
import { runLoadTest } from '../scripts/loadtest.ts';

describe('the load test, on a small plan', () => {
  it('shows lanes unaffected by hung starts, and the global queue and shard FIFOs blocked by them', async () => {
    const results = await runLoadTest({
      threads: 20, intentsPerThread: 5, hung: 0.1, hangMs: Infinity, sendCpuMs: 1, seed: 7,
      modes: ['lanes', 'global', 'shard-fifo'], shards: 2, concurrency: 10, budgetMs: 5_000, reference: false, repeats: 1, progress: false,
    });
    const lanes = results.find((r) => r.mode === 'lanes')!;
    const global = results.find((r) => r.mode === 'global')!;

    expect(lanes.hungThreads.count).toBe(2);
    expect(lanes.healthy).toMatchObject({ planned: 90, completed: 90, failed: 0, blocked: 0 });
    expect(lanes.orderViolations).toBe(0);
    expect(lanes.lost).toBe(0);
    expect(lanes.hungThreads.stopped).toBe(2);
    expect(lanes.finished).toBe(true);

    expect(global.healthy.blocked).toBeGreaterThan(0);
    expect(global.hungThreads.stopped).toBe(0);
    expect(global.finished).toBe(false);
    expect(global.lost).toBeNull();

    // Same routing as lanepool but a plain FIFO per worker: the hung starts block their shards' other
    // threads, and nothing fails outright (its worker runs the real reactor).
    const fifo = results.find((r) => r.mode === 'shard-fifo')!;
    expect(fifo.healthy.failed).toBe(0);
    expect(fifo.healthy.completed + fifo.healthy.blocked).toBe(90);
    expect(fifo.healthy.blocked).toBeGreaterThan(0);
  });
});
