import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Service } from '../../src/main/service/server.ts';
import { http, startTestService, submit } from './helpers.ts';

describe('service intents', () => {
  let service: Service;
  beforeAll(async () => (service = await startTestService()));
  afterAll(() => service.shutdown());

  it('answers 202 at once, and the record can be polled to completion', async () => {
    const accepted = await submit(service, 'poll-1', { type: 'thread.turn.start', payload: { input: 'hi' }, intentId: 'poll-intent-1' });
    expect(accepted.status).toBe(202);
    expect(accepted.body).toEqual({ intentId: 'poll-intent-1', threadId: 'poll-1', shard: service.pool.shardOf('poll-1'), status: 'queued' });
    let record;
    for (;;) {
      record = (await http(service, 'GET', '/v1/intents/poll-intent-1')).body;
      if (record.status === 'completed') break;
      expect(['queued', 'running']).toContain(record.status);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(record).toMatchObject({ threadId: 'poll-1', type: 'thread.turn.start', result: { turnId: expect.any(String), sessionId: expect.any(String) } });
    expect(record.startedAt).toBeDefined();
    expect(record.settledAt).toBeDefined();
  });

  it('with ?wait=true holds the request until the intent settles', async () => {
    const reply = await submit(service, 'wait-1', { type: 'thread.turn.start', payload: { input: 'hello' } }, true);
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({ status: 'completed', result: { restarted: false, output: { echo: 'hello' } } });
  });

  it('fails interrupt, approval and user-input with ERR_NO_SESSION when the thread has no session', async () => {
    for (const intent of [
      { type: 'thread.turn.interrupt', payload: {} },
      { type: 'thread.approval.respond', payload: { requestId: 'r1', decision: 'accept' } },
      { type: 'thread.user-input.respond', payload: { requestId: 'r2', answers: { q: 'a' } } },
    ]) {
      const reply = await submit(service, 'no-session', intent, true);
      expect(reply.body).toMatchObject({ status: 'failed', error: { code: 'ERR_NO_SESSION' } });
    }
  });

  it('runs them against a live session once a turn has started it', async () => {
    await submit(service, 'live', { type: 'thread.turn.start', payload: { input: 'go' } }, true);
    const approval = await submit(service, 'live', { type: 'thread.approval.respond', payload: { requestId: 'r1', decision: 'decline' } }, true);
    expect(approval.body).toMatchObject({ status: 'completed', result: { requestId: 'r1', decision: 'decline' } });
    const interrupt = await submit(service, 'live', { type: 'thread.turn.interrupt', payload: {} }, true);
    expect(interrupt.body).toMatchObject({ status: 'completed', result: { interrupted: false } });
  });

  it('restarts the session in the new runtime mode on the next turn, resuming from the last cursor', async () => {
    const first = await submit(service, 'modes', { type: 'thread.turn.start', payload: { input: 'a' } }, true);
    const same = await submit(service, 'modes', { type: 'thread.turn.start', payload: { input: 'b' } }, true);
    expect(same.body.result).toMatchObject({ restarted: false, sessionId: first.body.result.sessionId });
    const set = await submit(service, 'modes', { type: 'thread.runtime-mode.set', payload: { mode: 'full-access' } }, true);
    expect(set.body.result).toEqual({ runtimeMode: 'full-access', restartsOnNextTurn: true });
    const after = await submit(service, 'modes', { type: 'thread.turn.start', payload: { input: 'c' } }, true);
    expect(after.body.result.restarted).toBe(true);
    expect(after.body.result.sessionId).not.toBe(first.body.result.sessionId);
    const thread = await http(service, 'GET', '/v1/threads/modes');
    // Two turns advanced the cursor to 2; the restarted session resumed there and its turn made it 3.
    expect(thread.body.session).toMatchObject({ status: 'ready', runtimeMode: 'full-access', cursor: '3' });
  });

  it('reports a provider failure as failed with ERR_PROVIDER, and the thread keeps working', async () => {
    const failed = await submit(service, 'flaky', { type: 'thread.turn.start', payload: { input: 'x', simulate: { fail: 'start' } } }, true);
    expect(failed.body).toMatchObject({ status: 'failed', error: { code: 'ERR_PROVIDER' } });
    const ok = await submit(service, 'flaky', { type: 'thread.turn.start', payload: { input: 'y' } }, true);
    expect(ok.body.status).toBe('completed');
  });

  it('answers 404 ERR_INTENT_NOT_FOUND for an unknown intent', async () => {
    const reply = await http(service, 'GET', '/v1/intents/never-submitted');
    expect(reply.status).toBe(404);
    expect(reply.body.error.code).toBe('ERR_INTENT_NOT_FOUND');
  });

  it('drops a thread\'s session state when the session stops', async () => {
    await submit(service, 'stopper', { type: 'thread.turn.start', payload: { input: 'x' } }, true);
    expect((await http(service, 'GET', '/v1/threads/stopper')).body.session.status).toBe('ready');
    const stop = await submit(service, 'stopper', { type: 'thread.session.stop', payload: {} }, true);
    expect(stop.body.result).toMatchObject({ stopped: true });
    expect((await http(service, 'GET', '/v1/threads/stopper')).body).toMatchObject({ session: null, queued: 0, running: null });
  });
});
