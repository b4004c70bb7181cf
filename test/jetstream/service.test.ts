import { connect } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { intentPublisher } from '../../src/main/jetstream/publisher.ts';
import { shardFor } from '../../src/main/routing.ts';
import type { Service } from '../../src/main/service/server.ts';
import { until } from '../helpers.ts';
import { http, submit } from '../service/helpers.ts';
import { freshStream, ownedBy, partitionConsumer, ServiceSet, startNatsServer, startNatsService, type NatsServer } from './helpers.ts';

describe('JetStream mode: one service, several instances', () => {
  let nats: NatsServer;
  const services = new ServiceSet(() => nats);
  const start = services.start.bind(services);

  beforeAll(async () => {
    nats = await startNatsServer();
  });
  afterAll(async () => {
    await services.shutdownAll();
    await nats?.stop();
  });

  it('accepts an intent on one instance and answers its status on another', async () => {
    const stream = freshStream();
    const a = await start(stream, 'a');
    const b = await start(stream, 'b');
    // Settle the split first: a partition moving between turns would start a new session (cursor 1 again).
    await until(async () => (await ownedBy(a)).length === 8 && (await ownedBy(b)).length === 8, 'an 8/8 split');
    const accepted = await submit(a, 'thread-1', { type: 'thread.turn.start', payload: { input: 'hello' } });
    expect(accepted.status).toBe(202);
    expect(accepted.body).toMatchObject({ threadId: 'thread-1', partition: shardFor('thread-1', 16), status: 'queued' });
    await until(async () => (await http(b, 'GET', `/v1/intents/${accepted.body.intentId}`)).body.status === 'completed', 'the intent to complete');
    const record = (await http(b, 'GET', `/v1/intents/${accepted.body.intentId}`)).body;
    expect(record).toMatchObject({ threadId: 'thread-1', type: 'thread.turn.start', attempt: 1, result: { output: { echo: 'hello' } } });
    expect(['a', 'b']).toContain(record.instance);

    const waited = await submit(b, 'thread-1', { type: 'thread.turn.start', payload: { input: 'again' } }, true);
    expect(waited.status).toBe(200);
    expect(waited.body).toMatchObject({ status: 'completed', result: { cursor: '2' } });
  });

  it('keeps intentIds idempotent across instances and refuses bad input as the in-memory mode does', async () => {
    const stream = freshStream();
    const a = await start(stream, 'a');
    const b = await start(stream, 'b');
    const intent = { type: 'thread.turn.start', payload: { input: 'once' }, intentId: 'idem:1' };
    expect((await submit(a, 'thread-2', intent, true)).body).toMatchObject({ status: 'completed' });
    const again = await submit(b, 'thread-2', intent);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ intentId: 'idem:1', status: 'completed', attempt: 1 });
    const conflict = await submit(b, 'thread-3', intent);
    expect(conflict.status).toBe(409);
    expect(conflict.body.error.code).toBe('ERR_INTENT_CONFLICT');
    const bad = await submit(a, 'thread-2', { type: 'thread.turn.start', payload: {} });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('ERR_VALIDATION');
    expect((await http(a, 'GET', '/v1/intents/never-submitted')).status).toBe(404);
  });

  it('exports a publish function for programs that publish directly, with the same validation', async () => {
    const stream = freshStream();
    const a = await start(stream, 'a');
    const nc = await connect({ servers: nats.url });
    try {
      const publish = await intentPublisher(nc, { stream });
      const result = await publish({ threadId: 'direct-1', type: 'thread.turn.start', payload: { input: 'from a program' } });
      expect(result.kind).toBe('accepted');
      await until(async () => (await http(a, 'GET', `/v1/intents/${result.record.intentId}`)).body.status === 'completed', 'the published intent to run');
      await expect(publish({ threadId: 'bad thread', type: 'thread.turn.start', payload: { input: 'x' } })).rejects.toMatchObject({ code: 'ERR_INVALID_INTENT' });
      await expect(publish({ threadId: 't', type: 'thread.nope' as 'thread.turn.start', payload: { input: 'x' } })).rejects.toMatchObject({ code: 'ERR_INVALID_INTENT' });
      await expect(intentPublisher(nc, { stream: 'NO_SUCH_STREAM' })).rejects.toMatchObject({ code: 'ERR_JETSTREAM' });
    } finally {
      await nc.close();
    }
  });

  it('shares the partitions evenly, and hands some over when an instance joins', async () => {
    const stream = freshStream();
    const a = await start(stream, 'a');
    expect(await ownedBy(a)).toHaveLength(16);
    const b = await start(stream, 'b');
    await until(async () => (await ownedBy(a)).length === 8 && (await ownedBy(b)).length === 8, 'an 8/8 split');
    const c = await start(stream, 'c');
    await until(async () => {
      const owned = await Promise.all([a, b, c].map(ownedBy));
      return owned.every((list) => list.length >= 5 && list.length <= 6) && new Set(owned.flat()).size === 16 && owned.flat().length === 16;
    }, 'a 5/5/6 split with every partition owned once');
  });

  it('takes over a stopped instance\'s partitions without waiting for its leases to expire', async () => {
    const stream = freshStream();
    const a = await start(stream, 'a', { leaseTtlMs: 60_000 });
    const b = await start(stream, 'b', { leaseTtlMs: 60_000 });
    await until(async () => (await ownedBy(a)).length === 8 && (await ownedBy(b)).length === 8, 'an 8/8 split', 60_000);
    await b.shutdown();
    // The TTL is a minute: only a released lease can explain a takeover within the test's deadline.
    await until(async () => (await ownedBy(a)).length === 16, 'a to own every partition', 20_000);
  });

  it('consumes exactly the partitions --partitions names', async () => {
    const stream = freshStream();
    const low = await start(stream, 'low', { partitions: '0-7' as never });
    const high = await start(stream, 'high', { partitions: '8,9,10-15' as never });
    await until(async () => (await ownedBy(high)).length === 8, 'the static split');
    expect(await ownedBy(low)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(await ownedBy(high)).toEqual([8, 9, 10, 11, 12, 13, 14, 15]);
  });

  it('lets a hung thread hold only its own lane: its partition keeps flowing, and stop still works', async () => {
    const stream = freshStream();
    // One partition, one shard: every thread shares the partition and the worker with the hung one.
    const a = await start(stream, 'a', { natsPartitions: 1, shards: 1 });
    const hung = await submit(a, 'hung', { type: 'thread.turn.start', payload: { input: 'x', simulate: { startHangMs: 'forever' } } });
    const behind = await submit(a, 'hung', { type: 'thread.turn.start', payload: { input: 'queued behind' } });
    await until(async () => (await http(a, 'GET', '/v1/threads/hung')).body.session?.status === 'starting', 'the hung start to reach the provider');
    expect((await http(a, 'GET', `/v1/intents/${hung.body.intentId}`)).body.status).toBe('running');
    const others = await Promise.all(Array.from({ length: 20 }, (_, i) =>
      submit(a, `healthy-${i}`, { type: 'thread.turn.start', payload: { input: `n${i}` } }, true)));
    expect(others.map((reply) => reply.body.status)).toEqual(new Array(20).fill('completed'));
    expect((await http(a, 'GET', `/v1/intents/${hung.body.intentId}`)).body.status).toBe('running');
    expect((await http(a, 'GET', `/v1/intents/${behind.body.intentId}`)).body.status).toBe('queued');

    const stop = await submit(a, 'hung', { type: 'thread.session.stop', payload: {} }, true);
    expect(stop.body).toMatchObject({ status: 'completed', result: { stopped: false, wasStarting: true } });
    expect((await http(a, 'GET', `/v1/intents/${hung.body.intentId}`)).body.status).toBe('cancelled');
    expect((await http(a, 'GET', `/v1/intents/${behind.body.intentId}`)).body.status).toBe('cancelled');
  });

  it('sends in-progress acks, so an intent running past the ack wait is not redelivered', async () => {
    const stream = freshStream();
    const a = await start(stream, 'a', { natsPartitions: 1, ackWaitMs: 1000 });
    const slow = await submit(a, 'slow', { type: 'thread.turn.start', payload: { input: 'x', simulate: { startHangMs: 3500 } } }, true);
    expect(slow.body).toMatchObject({ status: 'completed', attempt: 1 });
    const nc = await connect({ servers: nats.url });
    try {
      const info = await partitionConsumer(nc, stream, 0);
      expect(info.num_redelivered).toBe(0);
      expect(info.num_ack_pending).toBe(0);
    } finally {
      await nc.close();
    }
  });

  it('refuses to start against a stream made for another partition count', async () => {
    const stream = freshStream();
    await start(stream, 'a', { natsPartitions: 16 });
    await expect(startNatsService(nats, stream, 'b', { natsPartitions: 8 })).rejects.toMatchObject({
      code: 'ERR_CONFIG', message: expect.stringMatching(/--nats-partitions.*not for 8 partitions/),
    });
  });

  it('fails to start with ERR_JETSTREAM when no server answers', async () => {
    await expect(startNatsService({ url: 'nats://127.0.0.1:1' } as NatsServer, freshStream(), 'x')).rejects.toMatchObject({ code: 'ERR_JETSTREAM' });
  });
});
