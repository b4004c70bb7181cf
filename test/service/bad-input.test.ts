import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Service } from '../../src/main/service/server.ts';
import { http, startTestService, submit } from './helpers.ts';

describe('service: bad input', () => {
  let service: Service;
  beforeAll(async () => (service = await startTestService({ bodyLimit: 4096, maxQueuedPerThread: 2 })));
  afterAll(() => service.shutdown());

  const good = { type: 'thread.turn.start', payload: { input: 'x' } };
  const cases: [string, () => Promise<{ status: number; body: any }>, number, string][] = [
    ['invalid JSON', () => http(service, 'POST', '/v1/threads/t/intents', '{"type": '), 400, 'ERR_INVALID_JSON'],
    ['a wrong content type', () => http(service, 'POST', '/v1/threads/t/intents', JSON.stringify(good), { 'content-type': 'text/plain' }), 400, 'ERR_UNSUPPORTED_CONTENT_TYPE'],
    ['an unknown type', () => submit(service, 't', { type: 'thread.explode', payload: {} }), 400, 'ERR_VALIDATION'],
    ['a missing payload', () => http(service, 'POST', '/v1/threads/t/intents', { type: 'thread.turn.start' }), 400, 'ERR_VALIDATION'],
    ['a malformed payload', () => submit(service, 't', { type: 'thread.turn.start', payload: { input: 42 } }), 400, 'ERR_VALIDATION'],
    ['an unknown payload field', () => submit(service, 't', { type: 'thread.turn.start', payload: { input: 'x', extra: 1 } }), 400, 'ERR_VALIDATION'],
    ['a payload of another type', () => submit(service, 't', { type: 'thread.runtime-mode.set', payload: { input: 'x' } }), 400, 'ERR_VALIDATION'],
    ['a bad simulate instruction', () => submit(service, 't', { type: 'thread.turn.start', payload: { input: 'x', simulate: { startHangMs: -1 } } }), 400, 'ERR_VALIDATION'],
    ['a bad intentId', () => submit(service, 't', { ...good, intentId: 'has space' }), 400, 'ERR_VALIDATION'],
    ['an empty threadId', () => submit(service, '', good), 400, 'ERR_VALIDATION'],
    ['a threadId over 256 characters', () => submit(service, 'a'.repeat(257), good), 400, 'ERR_VALIDATION'],
    ['a threadId with a bad character', () => submit(service, 'bad%2Fid', good), 400, 'ERR_VALIDATION'],
    ['an unknown wait value', () => http(service, 'POST', '/v1/threads/t/intents?wait=maybe', good), 400, 'ERR_VALIDATION'],
    ['a body over the limit', () => submit(service, 't', { type: 'thread.turn.start', payload: { input: 'x'.repeat(5000) } }), 413, 'ERR_BODY_TOO_LARGE'],
    ['an unknown route', () => http(service, 'GET', '/v2/nothing'), 404, 'ERR_NOT_FOUND'],
  ];
  for (const [what, send, status, code] of cases) {
    it(`answers ${what} with ${status} ${code}`, async () => {
      const reply = await send();
      expect(reply.status).toBe(status);
      expect(reply.body).toEqual({ error: { code, message: expect.any(String) } });
    });
  }

  it('accepts a threadId of exactly 256 allowed characters', async () => {
    expect((await submit(service, `${'a'.repeat(250)}._:-Z9`, good)).status).toBe(202);
  });

  it('answers 429 with Retry-After when a thread\'s lane is full, and loses nothing it accepted', async () => {
    const hang = { type: 'thread.turn.start', payload: { input: 'x', simulate: { startHangMs: 'forever' } } };
    expect((await submit(service, 'full', hang)).status).toBe(202);
    expect((await submit(service, 'full', good)).status).toBe(202);
    const refused = await submit(service, 'full', good);
    expect(refused.status).toBe(429);
    expect(refused.headers['retry-after']).toBe('1');
    expect(refused.body.error.code).toBe('ERR_QUEUE_FULL');
    // Stop still gets in (a control intent), and clears the lane.
    const stop = await submit(service, 'full', { type: 'thread.session.stop', payload: {} }, true);
    expect(stop.body.status).toBe('completed');
    expect((await submit(service, 'full', good, true)).body.status).toBe('completed');
  });

  it('left no lane wedged after all of that', async () => {
    const drain = await http(service, 'POST', '/v1/drain?timeoutMs=10000');
    expect(drain).toMatchObject({ status: 200, body: { drained: true } });
    expect(service.pool.stats().lanes).toBe(0);
  });
});

describe('service: bearer token', () => {
  let service: Service;
  beforeAll(async () => (service = await startTestService({ token: 'correct-horse-battery' })));
  afterAll(() => service.shutdown());

  it('needs the token on every route but /healthz', async () => {
    expect((await http(service, 'GET', '/healthz')).status).toBe(200);
    for (const [method, path] of [['GET', '/readyz'], ['GET', '/metrics'], ['GET', '/v1/intents/x'], ['POST', '/v1/drain'], ['GET', '/v1/threads/t']] as const) {
      const missing = await http(service, method, path);
      expect(missing.status).toBe(401);
      expect(missing.headers['www-authenticate']).toBe('Bearer');
      expect(missing.body.error.code).toBe('ERR_UNAUTHORIZED');
    }
    const wrong = await submit(service, 't', { type: 'thread.turn.start', payload: { input: 'x' } });
    expect(wrong.status).toBe(401);
    const res = await request(`${service.url}/v1/threads/t/intents?wait=true`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer correct-horse-battery' },
      body: JSON.stringify({ type: 'thread.turn.start', payload: { input: 'x' } }),
    });
    expect(res.statusCode).toBe(200);
    expect(((await res.body.json()) as { status: string }).status).toBe('completed');
    const bad = await http(service, 'GET', '/readyz', undefined, { authorization: 'Bearer wrong-token-here' });
    expect(bad.status).toBe(401);
    expect(bad.body.error.message).toBe('wrong bearer token');
  });
});
