import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Service } from '../../src/main/service/server.ts';
import { http, startTestService, submit } from './helpers.ts';

describe('GET /metrics timings', () => {
  let service: Service;
  beforeAll(async () => (service = await startTestService({ simSendMs: 50 })));
  afterAll(() => service.shutdown());

  it("exports the pool's wait and run distributions per shard, and each shard's utilization", async () => {
    const reply = await submit(service, 'timed', { type: 'thread.turn.start', payload: { input: 'x' } }, true);
    const shard = String(reply.body.shard);
    const text = String((await http(service, 'GET', '/metrics')).body);
    const value = (name: string, quantile: string): number => {
      const match = new RegExp(`${name}\\{shard="${shard}",quantile="${quantile}"\\} ([0-9.e-]+)`).exec(text);
      expect(match, `${name} quantile ${quantile}`).not.toBeNull();
      return Number(match![1]);
    };
    // The simulator's send alone takes 50 ms, so the run's max reflects it. Not to the millisecond: the
    // run is timed on the main thread, from the worker's "started" report arriving to the settlement
    // arriving, and on a loaded machine the first can arrive late (one run read 18.98 ms for 20 ms).
    expect(value('lanepool_task_run_seconds', '1')).toBeGreaterThanOrEqual(0.025);
    expect(value('lanepool_task_run_seconds', '0.5')).toBeLessThanOrEqual(value('lanepool_task_run_seconds', '0.99'));
    expect(value('lanepool_task_wait_seconds', '0.5')).toBeGreaterThan(0);
    const utilization = Number(new RegExp(`lanepool_shard_utilization\\{shard="${shard}"\\} ([0-9.e-]+)`).exec(text)?.[1]);
    expect(utilization).toBeGreaterThan(0);
    expect(utilization).toBeLessThanOrEqual(1);
  });
});
