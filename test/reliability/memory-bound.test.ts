import { describe, expect, it } from 'vitest';
import { runMemoryBound } from '../../scripts/reliability/memory-bound.ts';

describe('a service with a small heap, flooded with large intents behind hung starts', () => {
  it('stays alive, refuses the overflow with 429 naming a byte bound, and settles every accepted intent after Stop', async () => {
    // 400 intents of ~250 KB (~100 MB) into a 96 MB old space: without a byte bound the process dies.
    const report = await runMemoryBound({ heapMb: 96, threads: 8, intents: 400, inputChars: 250_000 });
    expect(report.survived).toBe(true);
    expect(report.failed).toBe(0);
    expect(report.accepted).toBeGreaterThan(0);
    expect(report.refused).toBeGreaterThan(0);
    expect(report.accepted + report.refused).toBe(report.sent);
    expect(Object.keys(report.refusedBy).every((limit) => limit === 'maxQueuedBytes' || limit === 'maxQueuedBytesPerKey')).toBe(true);
    // Everything accepted was still queued when the flood ended, so the bound held over all of it.
    expect(report.acceptedBytes).toBeLessThanOrEqual(report.maxQueuedBytes);
    expect(report.settledAfterStop).toBe(report.accepted);
    expect(report.usableAfter).toBe(true);
  }, 180_000);
});
