import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Service } from '../../src/main/service/server.ts';
import { http, startTestService, submit } from './helpers.ts';
import { openEvents, settlementOf, type Frame } from './sse-client.ts';

const turn = (input: string, simulate: Record<string, unknown> = {}, intentId?: string) =>
  ({ type: 'thread.turn.start', payload: { input, simulate }, ...(intentId ? { intentId } : {}) });

function expectIncreasingIds(frames: Frame[]): void {
  const ids = frames.map((frame) => frame.id!);
  for (let i = 1; i < ids.length; i++) expect(ids[i]!, `id ${ids[i]} after ${ids[i - 1]}`).toBeGreaterThan(ids[i - 1]!);
}

async function metric(service: Service, name: string): Promise<number> {
  const text = String((await http(service, 'GET', '/metrics')).body);
  return Number(new RegExp(`^${name} (\\d+)`, 'm').exec(text)?.[1] ?? Number.NaN);
}

describe('the thread events stream', () => {
  let service: Service;
  beforeAll(async () => (service = await startTestService()));
  afterAll(() => service.shutdown());

  it('carries a turn\'s provider events, in emit order, before its settlement, with increasing ids', async () => {
    const events = await openEvents(service, 'order');
    const first = await submit(service, 'order', turn('one', { items: 3 }, 'order-1'));
    const second = await submit(service, 'order', turn('two', { items: 1 }, 'order-2'));
    expect([first.status, second.status]).toEqual([202, 202]);
    await events.waitFor(settlementOf('order-2'), 'the second settlement');
    events.close();
    const seen = events.frames.map((frame) => `${frame.event}:${frame.data.kind ?? frame.data.intentId}`);
    expect(seen).toEqual([
      'provider:turn.started', 'provider:item.completed', 'provider:item.completed', 'provider:item.completed', 'provider:turn.completed', 'intent:order-1',
      'provider:turn.started', 'provider:item.completed', 'provider:turn.completed', 'intent:order-2',
    ]);
    expectIncreasingIds(events.frames);
    const items = events.frames.filter((frame) => frame.data.kind === 'item.completed').slice(0, 3);
    expect(items.map((frame) => frame.data)).toEqual([0, 1, 2].map((index) => ({
      threadId: 'order', intentId: 'order-1', kind: 'item.completed', turnId: 'turn-1', data: { index, text: `item ${index}` },
    })));
    expect(events.frames.at(-1)!.data).toMatchObject({ intentId: 'order-2', status: 'completed', result: { turnId: 'turn-2', status: 'completed' } });
  });

  it('gives a client that reconnects with Last-Event-ID every event it missed, and nothing twice', async () => {
    const before = await openEvents(service, 'resume');
    await submit(service, 'resume', turn('one', {}, 'resume-1'));
    const last = await before.waitFor(settlementOf('resume-1'), 'the first settlement');
    before.close();
    // Missed while disconnected:
    expect((await submit(service, 'resume', turn('two', { items: 2 }, 'resume-2'), true)).body.status).toBe('completed');
    const after = await openEvents(service, 'resume', last.id);
    await after.waitFor(settlementOf('resume-2'), 'the missed settlement');
    after.close();
    expect(after.frames.map((frame) => frame.data.kind ?? frame.data.intentId)).toEqual(['turn.started', 'item.completed', 'item.completed', 'turn.completed', 'resume-2']);
    expect(after.frames[0]!.id).toBeGreaterThan(last.id!);
    expectIncreasingIds(after.frames);
  });

  it('refuses a Last-Event-ID that is no event id', async () => {
    const reply = await http(service, 'GET', '/v1/threads/t/events', undefined, { 'last-event-id': 'yesterday' });
    expect(reply.status).toBe(400);
    expect(reply.body.error.code).toBe('ERR_VALIDATION');
  });
});

describe('the thread events stream, past its bounds', () => {
  it('sends an explicit gap when the missed events overflowed the thread\'s buffer', async () => {
    const service = await startTestService({ eventsPerThread: 3 });
    try {
      const before = await openEvents(service, 'small');
      await submit(service, 'small', turn('one', {}, 'small-1'));
      const last = await before.waitFor(settlementOf('small-1'), 'the first settlement');
      before.close();
      // turn.started, 5 items, turn.completed, the settlement: 8 events, of which 3 are kept.
      await submit(service, 'small', turn('two', { items: 5 }, 'small-2'), true);
      const after = await openEvents(service, 'small', last.id);
      await after.waitFor(settlementOf('small-2'), 'the settlement');
      after.close();
      const [gap, ...kept] = after.frames;
      expect(gap).toMatchObject({ event: 'gap', data: { threadId: 'small', lastEventId: last.id, reason: 'overflow' } });
      expect(gap!.id).toBe(gap!.data.lostThrough);
      expect(kept.map((frame) => frame.data.kind ?? frame.data.intentId)).toEqual(['item.completed', 'turn.completed', 'small-2']);
      expect(kept[0]!.data.data.index).toBe(4);
      expectIncreasingIds(after.frames);
      // Resuming from the gap's id is exact again.
      const again = await openEvents(service, 'small', gap!.id);
      await again.waitFor(settlementOf('small-2'), 'the settlement again');
      again.close();
      expect(again.frames.map((frame) => frame.event)).toEqual(['provider', 'provider', 'intent']);
    } finally {
      await service.shutdown();
    }
  });

  it('sends a gap for a thread whose buffer was evicted, and keeps only --events-max-threads buffers however many threads there are', async () => {
    const service = await startTestService({ eventsMaxThreads: 20, shards: 2 });
    try {
      const before = await openEvents(service, 'evicted');
      await submit(service, 'evicted', turn('one', {}, 'evicted-1'));
      const last = await before.waitFor(settlementOf('evicted-1'), 'the settlement');
      before.close();
      // 600 other threads, 20 at a time, each with a settlement (and the simulator's events).
      const threads = Array.from({ length: 600 }, (_, i) => `many-${i}`);
      for (let i = 0; i < threads.length; i += 20) {
        await Promise.all(threads.slice(i, i + 20).map((threadId) => submit(service, threadId, { type: 'thread.runtime-mode.set', payload: { mode: 'plan' } }, true)));
      }
      expect(await metric(service, 'lanepool_event_buffers')).toBeLessThanOrEqual(20);
      expect(await metric(service, 'lanepool_event_buffers_evicted')).toBeGreaterThanOrEqual(581);
      const after = await openEvents(service, 'evicted', last.id);
      const gap = await after.waitFor((frame) => frame.event === 'gap', 'a gap');
      after.close();
      expect(gap.data).toMatchObject({ threadId: 'evicted', lastEventId: last.id, reason: 'evicted' });
      expect(gap.data.lostThrough).toBeGreaterThanOrEqual(last.id!);
    } finally {
      await service.shutdown();
    }
  });
});
