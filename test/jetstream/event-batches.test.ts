/**
 * Thread events in batches (src/main/jetstream/event-feed.ts) against a real nats-server: a task's
 * events leave as one message, ids leave room for every event of a message, a batch too large for
 * max_payload is split rather than lost, a lapsed fence publishes nothing, and the feed still reads
 * a message of one event, as an instance from before batching publishes it.
 */
import { connect, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS_PER_MESSAGE, EventFeed, ensureEventStream, eventId, eventStreamOf, eventSubjectOf, partitionEventSink } from '../../src/main/jetstream/event-feed.ts';
import type { Fence } from '../../src/main/jetstream/hold.ts';
import { topology } from '../../src/main/jetstream/topology.ts';
import { ThreadEvents } from '../../src/main/service/thread-events.ts';
import { until } from '../helpers.ts';
import { freshStream, startNatsServer, type NatsServer } from './helpers.ts';

const LIMITS = { perThread: 1000, maxAgeMs: 60_000, maxThreads: 1000, maxBytes: 64 * 1024 * 1024 };
const quiet = { info: () => {}, warn: () => {} };
/** A provider event of thread `threadId` carrying `data`. */
const provider = (threadId: string, kind: string, data?: unknown) => ({ event: 'provider' as const, data: { threadId, intentId: 'i', kind, data } });

describe('JetStream mode: thread events in batches', () => {
  let nats: NatsServer;
  let nc: NatsConnection;

  beforeAll(async () => {
    nats = await startNatsServer();
    nc = await connect({ servers: nats.url });
  });
  afterAll(async () => {
    await nc?.close();
    await nats?.stop();
  });

  async function setUp() {
    const topo = topology(freshStream(), 1);
    const jsm = await nc.jetstreamManager();
    await ensureEventStream(jsm, topo, LIMITS);
    const events = new ThreadEvents(LIMITS, 0);
    const feed = await EventFeed.start(nc.jetstream(), jsm, topo, events, quiet);
    const frames: string[] = [];
    const stored = async () => (await jsm.streams.info(eventStreamOf(topo))).state;
    return { topo, events, feed, frames, stored };
  }

  it('sends the events of one task as one message, and those of the next task as the next', async () => {
    const { topo, events, feed, frames, stored } = await setUp();
    try {
      events.subscribe('t', (frame) => frames.push(frame));
      let held = true;
      const fence: Fence = { token: 1, holds: () => held };
      const sink = partitionEventSink(nc, topo, 0, fence);
      for (let i = 0; i < 5; i++) sink.append('t', provider('t', 'first', i));
      await new Promise((resolve) => setImmediate(resolve));
      for (let i = 0; i < 3; i++) sink.append('t', provider('t', 'second', i));
      await until(() => frames.length === 8, 'eight frames');
      expect((await stored()).messages).toBe(2);
      const ids = frames.map((frame) => Number(/^id: (\d+)/.exec(frame)![1]));
      expect(ids).toEqual([...[0, 1, 2, 3, 4].map((i) => eventId(1, i)), ...[0, 1, 2].map((i) => eventId(2, i))]);
      expect(frames[7]).toContain('"kind":"second"');

      // Appended while the lease is held, then lapsed before the end of the task: not published.
      sink.append('t', provider('t', 'late'));
      held = false;
      sink.append('t', provider('t', 'later'));
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect((await stored()).messages).toBe(2);
    } finally {
      feed.stop();
    }
  });

  it('splits a batch over max_payload instead of losing it, and caps a message at EVENTS_PER_MESSAGE events', async () => {
    const { topo, events, feed, frames, stored } = await setUp();
    try {
      events.subscribe('big', (frame) => frames.push(frame));
      const sink = partitionEventSink(nc, topo, 0, { token: 1, holds: () => true });
      const chunk = 'x'.repeat(Math.floor(nc.info!.max_payload / 4));
      for (let i = 0; i < 6; i++) sink.append('big', provider('big', `large-${i}`, chunk));
      await until(() => frames.length === 6, 'six large frames');
      expect((await stored()).messages).toBeGreaterThanOrEqual(2);
      expect(frames.map((frame) => /"kind":"(large-\d)"/.exec(frame)?.[1])).toEqual([0, 1, 2, 3, 4, 5].map((i) => `large-${i}`));

      const before = (await stored()).messages;
      for (let i = 0; i < EVENTS_PER_MESSAGE + 10; i++) sink.append('big', provider('big', `small-${i}`));
      await until(() => frames.length === 6 + EVENTS_PER_MESSAGE + 10, 'every small frame');
      expect((await stored()).messages - before).toBe(2);
      const ids = frames.map((frame) => Number(/^id: (\d+)/.exec(frame)![1]));
      for (let i = 1; i < ids.length; i++) expect(ids[i]!).toBeGreaterThan(ids[i - 1]!);
    } finally {
      feed.stop();
    }
  });

  it('reads a message of one event, as an instance from before batching sends it', async () => {
    const { topo, events, feed, frames, stored } = await setUp();
    try {
      events.subscribe('old', (frame) => frames.push(frame));
      nc.publish(eventSubjectOf(topo, 0), JSON.stringify({ threadId: 'old', event: 'provider', data: { kind: 'lone' } }));
      await until(() => frames.length === 1, 'the lone event');
      expect(frames[0]).toMatch(new RegExp(`^id: ${eventId((await stored()).last_seq, 0)}\\nevent: provider\\n`));
      expect(frames[0]).toContain('"kind":"lone"');
    } finally {
      feed.stop();
    }
  });
});
