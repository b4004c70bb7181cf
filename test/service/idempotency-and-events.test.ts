import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Service } from '../../src/main/service/server.ts';
import { settlesWithin } from '../helpers.ts';
import { http, startTestService, submit } from './helpers.ts';

describe('service idempotency', () => {
  let service: Service;
  beforeAll(async () => (service = await startTestService()));
  afterAll(() => service.shutdown());

  it('returns the first submission\'s record for a repeated intentId and does not run it twice', async () => {
    const intent = { type: 'thread.turn.start', payload: { input: 'once' }, intentId: 'idem-1' };
    const first = await submit(service, 'idem', intent, true);
    const again = await submit(service, 'idem', intent);
    const againWaiting = await submit(service, 'idem', intent, true);
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    expect(againWaiting.body).toEqual(first.body);
    // A second run would have taken a second turn on the same session.
    const next = await submit(service, 'idem', { type: 'thread.turn.start', payload: { input: 'next' } }, true);
    expect(Number(next.body.result.turnId.split('-')[1])).toBe(Number(first.body.result.turnId.split('-')[1]) + 1);
  });

  it('answers 409 when an intentId is reused for another thread or type', async () => {
    await submit(service, 'idem-a', { type: 'thread.runtime-mode.set', payload: { mode: 'x' }, intentId: 'idem-2' }, true);
    const other = await submit(service, 'idem-b', { type: 'thread.runtime-mode.set', payload: { mode: 'x' }, intentId: 'idem-2' });
    expect(other.status).toBe(409);
    expect(other.body.error.code).toBe('ERR_INTENT_CONFLICT');
  });
});

describe('service events', () => {
  let service: Service;
  beforeAll(async () => (service = await startTestService()));
  afterAll(() => service.shutdown());

  it('streams the thread\'s intent outcomes over SSE, in order', async () => {
    const res = await request(`${service.url}/v1/threads/sse-thread/events`);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/event-stream');
    const ids = Array.from({ length: 12 }, (_, i) => `sse-${i}`);
    const events: { intentId: string; status: string }[] = [];
    let onSubscribed!: () => void;
    const subscribed = new Promise<void>((resolve) => (onSubscribed = resolve));
    const reading = (async () => {
      let buffer = '';
      for await (const chunk of res.body) {
        buffer += chunk.toString();
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (frame === ': subscribed') onSubscribed();
          // Provider events (turn.started, ...) come on the same stream: only settlements count here.
          const data = frame.split('\n').find((line) => line.startsWith('data: '));
          if (data && frame.includes('\nevent: intent\n')) events.push(JSON.parse(data.slice(6)));
        }
        if (events.length === ids.length) break;
      }
    })();
    // The server sends this comment once the subscription is in place: only then submit.
    await settlesWithin(subscribed, 'the ": subscribed" comment');
    for (const [i, intentId] of ids.entries()) {
      const intent = i % 4 === 3
        // A normal intent of another type (approval answers are control intents now, which run beside a turn).
        ? { type: 'thread.runtime-mode.set', payload: { mode: 'default' }, intentId }
        : { type: 'thread.turn.start', payload: { input: `turn ${i}` }, intentId };
      expect((await submit(service, 'sse-thread', intent)).status).toBe(202);
    }
    await reading;
    res.body.destroy();
    expect(events.map((e) => e.intentId)).toEqual(ids);
    expect(events.every((e) => e.status === 'completed')).toBe(true);
  });

  it('ends open streams when the service shuts down', async () => {
    const other = await startTestService();
    const res = await request(`${other.url}/v1/threads/t/events`);
    const ended = (async () => {
      for await (const _ of res.body) {
        // Read until the server ends the stream.
      }
      return true;
    })();
    await other.shutdown();
    expect(await ended).toBe(true);
    expect((await http(service, 'GET', '/healthz')).status).toBe(200);
  });
});
