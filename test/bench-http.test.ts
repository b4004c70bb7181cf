import { describe, expect, it } from 'vitest';
import { http } from '../scripts/bench/http.ts';

describe('the http benchmark, in a tiny configuration', () => {
  it('runs the bare route, the service and the service with ?wait=true end to end, every request answered 2xx', async () => {
    // From the sources (no build needed); figures are not checked, only that each design answered.
    const rows = await http({ durationMs: 300, connections: 4, threads: 10, rounds: 1, from: 'src' });
    expect(rows.map((row) => row.design)).toEqual(['bare Fastify route, 202', 'lanepool service, 202', 'lanepool service, ?wait=true']);
    for (const row of rows) {
      expect(row['intents/s']).toBeGreaterThan(0);
      expect(row['not 2xx']).toBe(0);
      expect(row['CPU s / 10k']).toBeGreaterThan(0);
    }
  }, 120_000);
});
