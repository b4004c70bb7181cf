import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Service } from '../../src/main/service/server.ts';
import { startTestService } from './helpers.ts';

describe('service: a malformed URL', () => {
  let service: Service;
  beforeAll(async () => (service = await startTestService({ token: 'correct-horse-battery' })));
  afterAll(() => service.shutdown());

  // Decided: the router refuses it before the Host and token checks run; the answer says only that
  // the path does not decode, and no route, hook or handler is reached.
  for (const path of ['/v1/threads/%ZZ/intents', '/v1/intents/%E0%A4%A', '/v1/threads/%/events']) {
    it(`answers ${path} with 400 ERR_BAD_REQUEST in the service's error shape`, async () => {
      const res = await request(`${service.url}${path}`, { method: path.endsWith('/intents') ? 'POST' : 'GET' });
      expect(res.statusCode).toBe(400);
      expect(await res.body.json()).toEqual({ error: { code: 'ERR_BAD_REQUEST', message: 'the URL path is not valid percent-encoding' } });
    });
  }

  it('answers a path segment over the router\'s limit in the same shape', async () => {
    const res = await request(`${service.url}/v1/threads/${'a'.repeat(2000)}`);
    expect(res.statusCode).toBe(400);
    expect(await res.body.json()).toEqual({ error: { code: 'ERR_BAD_REQUEST', message: expect.any(String) } });
  });
});
