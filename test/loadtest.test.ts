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

describe('the load test on fake Codex processes, on a small plan', () => {
  it('shows lanes stopping every hung start and leaving no agent process, and the global queue blocked', async () => {
    const plan = { threads: 10, intentsPerThread: 3, hung: 0.2, hangMs: Infinity, sendCpuMs: 0, seed: 7, shards: 2, concurrency: 10, reference: false, repeats: 1, progress: false, provider: 'codex' as const };
    const [lanes] = await runLoadTest({ ...plan, modes: ['lanes'], budgetMs: 60_000 });
    expect(lanes).toMatchObject({ healthy: { planned: 24, completed: 24, failed: 0, blocked: 0 }, orderViolations: 0, lost: 0, finished: true, orphans: 0 });
    expect(lanes!.hungThreads).toMatchObject({ count: 2, stopped: 2, stopMs: [expect.any(Number), expect.any(Number)] });

    const [global] = await runLoadTest({ ...plan, modes: ['global'], budgetMs: 1_000 });
    expect(global).toMatchObject({ healthy: { completed: 0, blocked: 24 }, hungThreads: { stopped: 0 }, finished: false, orphans: 0 });
  });
});
