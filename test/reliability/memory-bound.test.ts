import { describe, expect, it } from 'vitest';
import { runMemoryBound, type IntentShape } from '../../scripts/reliability/memory-bound.ts';

describe('a service with a small heap, flooded with large intents behind hung starts', () => {
  // About 80 MB of JSON into a 64 MB old space: without a byte bound that holds, the process dies.
  // Each shape attacks the count differently (see memory-bound.ts): Latin-1 text, text V8 stores two
  // bytes per character, and an object of many small fields.
  for (const shape of ['ascii', 'wide', 'keys'] as IntentShape[]) {
    it(`stays alive (${shape}), refuses the overflow with 429 naming a byte bound, and settles every accepted intent after Stop`, async () => {
      const report = await runMemoryBound({ heapMb: 64, threads: 8, intents: 320, inputChars: 250_000, shape });
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
  }
});
