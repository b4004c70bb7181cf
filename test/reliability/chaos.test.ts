import { describe, expect, it } from 'vitest';
import { runChaos } from '../../scripts/reliability/chaos.ts';

describe('chaos: stalls, crashes, deadlines and cancels at random', () => {
  it('settles every task exactly once, keeps per-key order, and leaves the pool healthy', async () => {
    const report = await runChaos({ tasks: 3000, keys: 60, stalls: 2, crashes: 4, stallTimeoutMs: 300, seed: 1125 });
    expect(report.settled).toBe(report.submitted);
    expect(report.settledTwice).toBe(0);
    expect(Object.values(report.outcomes).reduce((a, b) => a + b, 0)).toBe(report.submitted);
    // Only the outcomes the injected failures can cause.
    expect(Object.keys(report.outcomes).sort()).toEqual(
      expect.arrayContaining(['completed', 'ERR_LANE_TIMEOUT', 'ERR_SHARD_RESTARTED'].sort()),
    );
    for (const code of Object.keys(report.outcomes)) {
      expect(['completed', 'ERR_LANE_TIMEOUT', 'ERR_LANE_CANCELLED', 'ERR_SHARD_RESTARTED']).toContain(code);
    }
    expect(report.orderViolations).toBe(0);
    expect(report.restarts).toEqual({ stall: 2, crash: 4, oom: 0 });
    expect(report.healthyAtEnd).toBe(true);
  });
});
