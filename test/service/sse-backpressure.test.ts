import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Service } from '../../src/main/service/server.ts';
import { http, startTestService, submit } from './helpers.ts';
import { rawClient } from './raw-socket.ts';

// Its turn results are as many bytes as the input says, so a few events fill the kernel's buffers.
const BIG_RESULT = fileURLToPath(new URL('../fixtures/big-result-provider.mjs', import.meta.url));
const EVENT_BYTES = 200_000;

async function dropped(service: Service): Promise<number> {
  const text = String((await http(service, 'GET', '/metrics')).body);
  return Number(/^lanepool_sse_dropped_total (\d+)/m.exec(text)?.[1] ?? Number.NaN);
}

describe('service: an events subscriber that stopped reading', () => {
  let service: Service;
  beforeAll(async () => (service = await startTestService({ handler: BIG_RESULT, sseMaxBufferBytes: 64 * 1024 })));
  afterAll(() => service.shutdown());

  it('is disconnected once --sse-max-buffer-bytes behind and counted, while a reading subscriber gets every event', async () => {
    const stalled = await rawClient(service);
    stalled.socket.write(`GET /v1/threads/busy/events HTTP/1.1\r\nHost: 127.0.0.1:${new URL(service.url).port}\r\n\r\n`);
    // Wait for the subscription, then stop reading: the kernel buffers fill, then the server's.
    while (!stalled.received().includes(': subscribed')) await new Promise((resolve) => setTimeout(resolve, 5));
    stalled.socket.pause();

    // Subscribed by the time its headers arrive: the route subscribes in the same turn as it writes them.
    const reader = await request(`${service.url}/v1/threads/busy/events`);
    let seen = 0;
    const reading = (async () => {
      let text = '';
      for await (const chunk of reader.body) {
        text += chunk.toString();
        const frames = text.split('\n\n');
        text = frames.pop()!;
        seen += frames.filter((frame) => frame.includes('event: intent')).length;
      }
    })();

    expect(await dropped(service)).toBe(0);
    // At most 200 events of 200 kB (40 MB): far past any loopback socket buffer. Stop at the drop.
    let sent = 0;
    while (sent < 200 && (await dropped(service)) === 0) {
      expect((await submit(service, 'busy', { type: 'thread.turn.start', payload: { input: String(EVENT_BYTES) } }, true)).body.status).toBe('completed');
      sent++;
    }
    expect(await dropped(service)).toBe(1);
    // The stalled subscriber's connection is gone (the server destroyed it).
    stalled.socket.resume();
    await stalled.closed;

    // The reading subscriber was not dropped and got every event; the service still serves.
    while (seen < sent) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(seen).toBe(sent);
    expect(await dropped(service)).toBe(1);
    expect((await submit(service, 'other', { type: 'thread.turn.start', payload: { input: 'small' } }, true)).body.status).toBe('completed');
    reader.body.destroy();
    await reading.catch(() => undefined);
  });
});
