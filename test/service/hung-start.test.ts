import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Service } from '../../src/main/service/server.ts';
import { http, startTestService, submit, threadsOnSameShard } from './helpers.ts';

describe('service: a thread whose session start hangs forever', () => {
  let service: Service;
  beforeAll(async () => (service = await startTestService({ shards: 2 })));
  afterAll(() => service.shutdown());

  it('does not stall another thread on the same shard, and Stop gets through the hang', async () => {
    const [hung, healthy] = threadsOnSameShard(2, 2, 'hs');
    expect(service.pool.shardOf(hung!)).toBe(service.pool.shardOf(healthy!));

    const start = await submit(service, hung!, { type: 'thread.turn.start', payload: { input: 'x', simulate: { startHangMs: 'forever' } }, intentId: 'hung-start' });
    expect(start.status).toBe(202);
    const queuedBehind = await submit(service, hung!, { type: 'thread.turn.start', payload: { input: 'second' }, intentId: 'hung-second' });
    expect(queuedBehind.status).toBe(202);

    // The healthy thread on the same worker completes a full turn start.
    const turn = await submit(service, healthy!, { type: 'thread.turn.start', payload: { input: 'hello' } }, true);
    expect(turn.status).toBe(200);
    expect(turn.body).toMatchObject({ status: 'completed', result: { turnId: expect.any(String) } });

    const thread = await http(service, 'GET', `/v1/threads/${hung}`);
    expect(thread.body).toMatchObject({ queued: 1, running: { intentId: 'hung-start' }, session: { status: 'starting' } });

    const stop = await submit(service, hung!, { type: 'thread.session.stop', payload: {} }, true);
    expect(stop.status).toBe(200);
    expect(stop.body).toMatchObject({ status: 'completed', result: { wasStarting: true } });
    for (const id of ['hung-start', 'hung-second']) {
      const record = (await http(service, 'GET', `/v1/intents/${id}`)).body;
      expect(record).toMatchObject({ status: 'cancelled', error: { code: 'ERR_LANE_CANCELLED' } });
    }
    // The thread is usable again.
    const again = await submit(service, hung!, { type: 'thread.turn.start', payload: { input: 'fresh' } }, true);
    expect(again.body.status).toBe('completed');
  });
});
