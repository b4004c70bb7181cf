import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Service } from '../../src/main/service/server.ts';
import { http, startTestService } from './helpers.ts';

describe('service: POST /v1/drain', () => {
  let service: Service;
  beforeAll(async () => (service = await startTestService()));
  afterAll(() => service.shutdown());

  it('accepts Content-Type: application/json with an empty body, as many clients send a bodiless POST', async () => {
    expect(await http(service, 'POST', '/v1/drain', '', { 'content-type': 'application/json' })).toMatchObject({ status: 200, body: { drained: true } });
    expect(await http(service, 'POST', '/v1/drain', '{}')).toMatchObject({ status: 200, body: { drained: true } });
  });

  it('still refuses a body that is not JSON, and the intents route still refuses an empty one', async () => {
    expect(await http(service, 'POST', '/v1/drain', '{"a":', { 'content-type': 'application/json' })).toMatchObject({ status: 400, body: { error: { code: 'ERR_INVALID_JSON' } } });
    expect(await http(service, 'POST', '/v1/threads/t/intents', '', { 'content-type': 'application/json' })).toMatchObject({ status: 400, body: { error: { code: 'ERR_INVALID_JSON' } } });
  });
});
