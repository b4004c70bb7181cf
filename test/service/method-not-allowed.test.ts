import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Service } from '../../src/main/service/server.ts';
import { startTestService } from './helpers.ts';

describe('service: a known path asked with another method', () => {
  let service: Service;
  beforeAll(async () => (service = await startTestService()));
  afterAll(() => service.shutdown());

  const cases: [string, string, string][] = [
    ['PUT', '/v1/threads/t/intents', 'POST'],
    ['GET', '/v1/threads/t/intents', 'POST'],
    ['DELETE', '/v1/intents/i-1', 'GET, HEAD'],
    ['POST', '/v1/threads/t', 'GET, HEAD'],
    ['PATCH', '/v1/threads/t/events', 'GET, HEAD'],
    ['GET', '/v1/drain', 'POST'],
    ['PUT', '/metrics', 'GET, HEAD'],
  ];
  for (const [method, path, allow] of cases) {
    it(`answers ${method} ${path} with 405 ERR_METHOD_NOT_ALLOWED and Allow: ${allow}`, async () => {
      const res = await request(`${service.url}${path}`, { method });
      expect(res.statusCode).toBe(405);
      expect(res.headers.allow).toBe(allow);
      expect(await res.body.json()).toEqual({ error: { code: 'ERR_METHOD_NOT_ALLOWED', message: expect.stringContaining(allow) } });
    });
  }

  it('still answers 404 for a path no route has', async () => {
    for (const path of ['/v1/threads', '/v1/threads/t/intents/x', '/v2/drain']) {
      const res = await request(`${service.url}${path}`, { method: 'PUT' });
      expect(res.statusCode, path).toBe(404);
      expect(((await res.body.json()) as { error: { code: string } }).error.code).toBe('ERR_NOT_FOUND');
    }
  });
});
