import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Service } from '../../src/main/service/server.ts';
import { startTestService, submit } from './helpers.ts';
import { rawClient, trickle } from './raw-socket.ts';

const TOKEN = 'correct-horse-battery';
const header = (port: string, extra = '') =>
  `POST /v1/threads/slow/intents HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n${extra}\r\n`;

describe('service: slow clients', () => {
  let service: Service;
  beforeAll(async () => (service = await startTestService({ requestTimeoutMs: 1000, headersTimeoutMs: 500, keepAliveTimeoutMs: 300 })));
  afterAll(() => service.shutdown());

  it('answers 408 and closes a connection that trickles its body past --request-timeout-ms', async () => {
    const client = await rawClient(service);
    client.socket.write(header(new URL(service.url).port));
    trickle(client.socket, 100);
    expect(await client.closed).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('closes a connection that trickles its headers past --headers-timeout-ms, or sends nothing', async () => {
    const silent = await rawClient(service);
    const slow = await rawClient(service);
    slow.socket.write('GET /healthz HTTP/1.1\r\nX-Slow: ');
    trickle(slow.socket, 100);
    expect(await silent.closed).toMatch(/408|^$/);
    expect(await slow.closed).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('closes an idle keep-alive connection after --keep-alive-timeout-ms', async () => {
    const client = await rawClient(service);
    client.socket.write(`GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:${new URL(service.url).port}\r\n\r\n`);
    const text = await client.closed;
    expect(text).toMatch(/^HTTP\/1\.1 200 /);
    expect(text).toContain('{"status":"ok"}');
  });

  it('does not cut a ?wait=true request or an events stream that outlive --request-timeout-ms', async () => {
    const events = await request(`${service.url}/v1/threads/long/events`);
    const firstEvent = (async () => {
      let text = '';
      for await (const chunk of events.body) {
        text += chunk.toString();
        if (text.includes('event: intent')) return text;
      }
      return text;
    })();
    // The start hangs three times the request timeout before the turn completes.
    const reply = await submit(service, 'long', { type: 'thread.turn.start', payload: { input: 'x', simulate: { startHangMs: 3000 } } }, true);
    expect(reply.status).toBe(200);
    expect(reply.body.status).toBe('completed');
    expect(await firstEvent).toContain('"status":"completed"');
    events.body.destroy();
  });
});

describe('service: a client without the token', () => {
  let service: Service;
  // A long request timeout: what closes the connection here is the 401, not the timeout.
  beforeAll(async () => (service = await startTestService({ token: TOKEN, requestTimeoutMs: 600_000 })));
  afterAll(() => service.shutdown());

  it('gets its 401 with Connection: close, and the connection closed while it still trickles a body', async () => {
    const client = await rawClient(service);
    client.socket.write(header(new URL(service.url).port));
    trickle(client.socket, 100);
    const text = await client.closed;
    expect(text).toMatch(/^HTTP\/1\.1 401 /);
    expect(text.toLowerCase()).toContain('connection: close');
  });

  it('is let in with the scheme in any case', async () => {
    for (const scheme of ['Bearer', 'bearer', 'BEARER', 'bEaReR']) {
      const res = await request(`${service.url}/readyz`, { headers: { authorization: `${scheme} ${TOKEN}` } });
      await res.body.dump();
      expect(res.statusCode).toBe(200);
    }
    const wrong = await request(`${service.url}/readyz`, { headers: { authorization: `Basic ${TOKEN}` } });
    await wrong.body.dump();
    expect(wrong.statusCode).toBe(401);
  });
});
