import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Service } from '../../src/main/service/server.ts';
import { http, startTestService, submit } from './helpers.ts';

describe('service: full of hung starts (--max-queued 10)', () => {
  let service: Service;
  const threads = Array.from({ length: 10 }, (_, i) => `full-${i}`);
  beforeAll(async () => {
    service = await startTestService({ shards: 2, maxQueued: 10 });
    for (const thread of threads) {
      const hung = await submit(service, thread, { type: 'thread.turn.start', payload: { input: 'x', simulate: { startHangMs: 'forever' } }, intentId: `hung-${thread}` });
      expect(hung.status).toBe(202);
    }
  });
  afterAll(() => service.shutdown());

  it('refuses another turn, naming the bound it hit', async () => {
    const overflow = await submit(service, 'one-more', { type: 'thread.turn.start', payload: { input: 'x' } });
    expect(overflow.status).toBe(429);
    expect(overflow.body.error.message).toMatch(/maxQueued is 10 tasks/);
  });

  it('still describes a thread: GET answers its real session state', async () => {
    const thread = await http(service, 'GET', `/v1/threads/${threads[0]}`);
    expect(thread.status).toBe(200);
    expect(thread.body).toMatchObject({ running: { intentId: `hung-${threads[0]}` }, session: { status: 'starting' } });
  });

  it('admits an interrupt', async () => {
    const interrupt = await submit(service, threads[1]!, { type: 'thread.turn.interrupt', payload: {} });
    expect(interrupt.status).toBe(202);
    const settled = await submit(service, threads[1]!, { type: 'thread.turn.interrupt', payload: {}, intentId: interrupt.body.intentId }, true);
    expect(settled.status).toBe(200);
    expect(['completed', 'failed']).toContain(settled.body.status);
  });

  it('admits a stop, which releases the hung start and frees the thread', async () => {
    const stop = await submit(service, threads[2]!, { type: 'thread.session.stop', payload: {} }, true);
    expect(stop.status).toBe(200);
    expect(stop.body).toMatchObject({ status: 'completed', result: { wasStarting: true } });
    expect((await http(service, 'GET', `/v1/intents/hung-${threads[2]}`)).body).toMatchObject({ status: 'cancelled' });
    // The stop gave back the room the hung start held: the thread runs a fresh turn.
    const again = await submit(service, threads[2]!, { type: 'thread.turn.start', payload: { input: 'fresh' } }, true);
    expect(again.status).toBe(200);
    expect(again.body.status).toBe('completed');
  });
});
