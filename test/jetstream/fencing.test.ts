/**
 * The pieces of fencing that can be shown one at a time against a real nats-server: record writes
 * are compare-and-set, so a stale owner's write is refused and a settled record stays settled; and a
 * queued record whose message never reached the stream is published again when the intentId is
 * retried, however late. The paused-owner attack as a whole is zombie-owner.test.ts.
 */
import { connect, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IntentStore, storeKey, type StoredIntent } from '../../src/main/jetstream/intent-store.ts';
import { partitionOf, topology } from '../../src/main/jetstream/topology.ts';
import { until } from '../helpers.ts';
import { http, submit } from '../service/helpers.ts';
import { freshStream, ServiceSet, startNatsServer, type NatsServer } from './helpers.ts';

describe('JetStream mode: fencing of record writes', () => {
  let nats: NatsServer;
  let nc: NatsConnection;
  const services = new ServiceSet(() => nats);

  beforeAll(async () => {
    nats = await startNatsServer();
    nc = await connect({ servers: nats.url });
  });
  afterAll(async () => {
    await services.shutdownAll();
    await nc?.close();
    await nats?.stop();
  });

  it('refuses a write from a revision someone else has moved past, so a settled record is never overwritten', async () => {
    const store = await IntentStore.open(nc, topology(freshStream(), 1), 60_000);
    const queued: StoredIntent = { intentId: 'cas:1', threadId: 't', type: 'thread.turn.start', partition: 0, status: 'queued', submittedAt: new Date().toISOString(), attempt: 0 };
    const created = await store.create(queued);
    if (!created.created) throw new Error('the record should be new');
    // Two holds both saw the queued revision: the old one (lease 5) and the new one (lease 9).
    const running = await store.update({ ...queued, status: 'running', attempt: 1, instance: 'new', lease: 9 }, created.revision);
    if (!running.ok) throw new Error('the first compare-and-set should land');
    const settled = await store.update({ ...queued, status: 'completed', attempt: 1, instance: 'new', lease: 9, result: 42 }, running.revision);
    expect(settled.ok).toBe(true);

    const stale = await store.update({ ...queued, status: 'running', attempt: 1, instance: 'old', lease: 5 }, created.revision);
    expect(stale).toMatchObject({ ok: false, current: { record: { status: 'completed', instance: 'new', lease: 9, result: 42 } } });
    expect(await store.get('cas:1')).toMatchObject({ status: 'completed', result: 42 });

    // A retry of a write that landed although its reply was lost counts as done, not as refused.
    const again = await store.update({ ...queued, status: 'completed', attempt: 1, instance: 'new', lease: 9, result: 42 }, running.revision);
    expect(again.ok).toBe(true);
  });

  it('publishes a queued record again when its intentId is retried, however old, if its message never reached the stream', async () => {
    const stream = freshStream();
    const a = await services.start(stream, 'a');
    // What a front leaves behind when the publish fails and so does the delete (NATS down): a queued
    // record, with no message, created long before the retry (past the 2-minute duplicate window).
    const kv = await nc.jetstream().views.kv(`${stream}_intents`, { bindOnly: true });
    const submittedAt = new Date(Date.now() - 5 * 60_000).toISOString();
    const orphan: StoredIntent = {
      intentId: 'lost-publish:1', threadId: 'orphan', type: 'thread.turn.start', partition: partitionOf(topology(stream, 16), 'orphan'),
      status: 'queued', submittedAt, attempt: 0,
    };
    await kv.create(storeKey(orphan.intentId), new TextEncoder().encode(JSON.stringify(orphan)));

    const retry = await submit(a, 'orphan', { type: 'thread.turn.start', payload: { input: 'at last' }, intentId: orphan.intentId });
    expect(retry.status).toBe(200);
    await until(async () => (await http(a, 'GET', `/v1/intents/${orphan.intentId}`)).body.status === 'completed', 'the retried intent to run');
    expect((await http(a, 'GET', `/v1/intents/${orphan.intentId}`)).body).toMatchObject({ attempt: 1, result: { output: { echo: 'at last' } } });
  });
});
