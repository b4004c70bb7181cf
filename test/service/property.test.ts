import fc from 'fast-check';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Service } from '../../src/main/service/server.ts';
import { http, startTestService, submit } from './helpers.ts';

const types = ['thread.turn.start', 'thread.turn.interrupt', 'thread.approval.respond', 'thread.user-input.respond', 'thread.session.stop', 'thread.runtime-mode.set', 'bogus'];

describe('service: random and malformed requests', () => {
  let service: Service;
  beforeAll(async () => (service = await startTestService({ bodyLimit: 16_384, taskTimeoutMs: 2000 })));
  afterAll(() => service.shutdown());

  it('never answers 5xx and stays healthy', async () => {
    const threadId = fc.oneof(fc.string({ maxLength: 300 }), fc.stringMatching(/^[A-Za-z0-9._:-]{1,20}$/), fc.constant(''));
    const body = fc.oneof(
      fc.jsonValue(),
      fc.record({ type: fc.constantFrom(...types), payload: fc.jsonValue() }, { requiredKeys: [] }),
      fc.record({
        type: fc.constantFrom(...types),
        payload: fc.record({ input: fc.oneof(fc.string(), fc.integer()), mode: fc.string(), requestId: fc.string(), decision: fc.string(), answers: fc.jsonValue(), simulate: fc.jsonValue() }, { requiredKeys: [] }),
        intentId: fc.string(),
      }, { requiredKeys: ['type'] }),
    );
    const raw = fc.oneof(body.map((b) => JSON.stringify(b)), fc.string({ maxLength: 200 }), fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b).toString('latin1')));
    const contentType = fc.constantFrom('application/json', 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded', '');
    const query = fc.constantFrom('', '?wait=false', '?wait=maybe', '?x=1');

    await fc.assert(
      fc.asyncProperty(threadId, raw, contentType, query, async (thread, payload, type, q) => {
        const headers: Record<string, string> = type ? { 'content-type': type } : {};
        const res = await request(`${service.url}/v1/threads/${encodeURIComponent(thread)}/intents${q}`, { method: 'POST', headers, body: payload });
        await res.body.dump();
        expect(res.statusCode).toBeLessThan(500);
        expect(res.statusCode).toBeGreaterThanOrEqual(200);
      }),
      { numRuns: 300, seed: 20261125 },
    );

    expect((await http(service, 'GET', '/healthz')).status).toBe(200);
    const ok = await submit(service, 'after-fuzz', { type: 'thread.turn.start', payload: { input: 'still fine' } }, true);
    expect(ok.body.status).toBe('completed');
  });
});
