import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Service } from '../../src/main/service/server.ts';
import { settlesWithin } from '../helpers.ts';
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

describe('service: thread reads while a provider freezes its worker (watchdog off, --max-queued-control 1)', () => {
  let service: Service;
  beforeAll(async () => (service = await startTestService({
    handler: fileURLToPath(new URL('../fixtures/spinning-provider.mjs', import.meta.url)), shards: 1, stallTimeoutMs: 0, maxQueuedControl: 1,
  })));
  afterAll(() => service.shutdown());

  it('answers session "unknown" without waiting for the worker, and gives the control allowance back to a stop', async () => {
    expect((await submit(service, 'frozen', { type: 'thread.turn.start', payload: { input: 'spin' } })).status).toBe(202);
    // Frozen once the worker no longer answers a probe.
    let answered = true;
    for (let probe = 0; answered && probe < 100; probe++) answered = (await service.pool.inspect({ timeoutMs: 200 }))[0] !== undefined;
    expect(answered).toBe(false);
    // Before the fix the read's control task waited for a start that never came, holding the one
    // control slot: the GET never answered and every stop got 429.
    const read = await settlesWithin(http(service, 'GET', '/v1/threads/reader'), 'GET /v1/threads/reader', 15_000);
    expect(read.body).toMatchObject({ threadId: 'reader', session: 'unknown' });
    const stop = await submit(service, 'reader', { type: 'thread.session.stop', payload: {} });
    expect(stop.status).toBe(202);
  });
});
