/**
 * JetStream mode under things going wrong: a shutdown that drains longer than the lease TTL, stream
 * messages that are not intents, instances started with settings the server's buckets disagree
 * with, and the NATS server going away.
 */
import { fileURLToPath } from 'node:url';
import { connect, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoredIntent } from '../../src/main/jetstream/intent-store.ts';
import { shardFor } from '../../src/main/routing.ts';
import type { Service } from '../../src/main/service/server.ts';
import { until } from '../helpers.ts';
import { http, submit } from '../service/helpers.ts';
import { freshStream, ownedBy, partitionConsumer, ServiceSet, startNatsServer, startNatsService, type NatsServer } from './helpers.ts';

const BIG_RESULT = fileURLToPath(new URL('../fixtures/big-result-provider.mjs', import.meta.url));

/** A gauge's value from GET /metrics. */
async function gauge(service: Service, name: string): Promise<number> {
  const text = (await http(service, 'GET', '/metrics')).body as string;
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  if (line === undefined) throw new Error(`no ${name} in /metrics`);
  return Number(line.split(' ')[1]);
}

describe('JetStream mode: robustness', () => {
  let nats: NatsServer;
  let nc: NatsConnection;
  const services = new ServiceSet(() => nats);
  const start = services.start.bind(services);

  beforeAll(async () => {
    nats = await startNatsServer();
    nc = await connect({ servers: nats.url });
  });
  afterAll(async () => {
    await services.shutdownAll();
    await nc?.close();
    await nats?.stop();
  });

  it('keeps renewing a partition\'s lease while a shutdown drains it for longer than the lease TTL', async () => {
    const stream = freshStream();
    // Lease TTL 1 s, grace 8 s: the intent below runs about 3 s into the shutdown.
    const a = await start(stream, 'a', { shards: 1, graceMs: 8000 });
    const b = await start(stream, 'b', { shards: 1 });
    await until(async () => (await ownedBy(a)).length === 8 && (await ownedBy(b)).length === 8, 'the partitions to be split 8/8');
    const ownedByA = await ownedBy(a);
    let n = 0;
    while (!ownedByA.includes(shardFor(`drain-${n}`, 16))) n++;
    const thread = `drain-${n}`;

    const kv = await nc.jetstream().views.kv(`${stream}_intents`, { bindOnly: true });
    const writes: StoredIntent[] = [];
    const watch = await kv.watch();
    void (async () => {
      for await (const entry of watch) if (entry.operation === 'PUT') writes.push(entry.json<StoredIntent>());
    })();

    await submit(a, thread, { type: 'thread.turn.start', payload: { input: 'slow', simulate: { startHangMs: 3000 } }, intentId: 'drain-1' });
    await submit(a, thread, { type: 'thread.turn.start', payload: { input: 'next' }, intentId: 'drain-2' });
    await until(() => writes.some((w) => w.intentId === 'drain-1' && w.status === 'running'), 'drain-1 to start on a');
    await a.shutdown();

    await until(async () => (await http(b, 'GET', '/v1/intents/drain-2')).body.status === 'completed', 'drain-2 to complete on b');
    watch.stop();
    // The first intent finished on a, once; b never ran it again, and ran the second only after it.
    const first = writes.filter((w) => w.intentId === 'drain-1');
    expect(first.map((w) => [w.status, w.instance ?? null, w.attempt])).toEqual([['queued', null, 0], ['running', 'a', 1], ['completed', 'a', 1]]);
    const second = writes.filter((w) => w.intentId === 'drain-2' && w.status !== 'queued');
    expect(second.map((w) => [w.status, w.instance, w.attempt])).toEqual([['running', 'b', 1], ['completed', 'b', 1]]);
    expect(Date.parse(second[0]!.startedAt!)).toBeGreaterThanOrEqual(Date.parse(first.at(-1)!.settledAt!));
    expect(await gauge(b, 'lanepool_jetstream_leases_lost')).toBe(0);
  });

  it('terminates stream messages that are not intents, and the partition keeps flowing', async () => {
    const stream = freshStream();
    // A short ack wait: anything left unacknowledged is redelivered (and replayed) within the test.
    const a = await start(stream, 'a', { natsPartitions: 1, shards: 1, ackWaitMs: 1000 });
    const js = nc.jetstream();
    const subject = `${stream}.intents.0.raw`;
    await js.publish(subject, 'not json');
    await js.publish(subject, JSON.stringify({ threadId: 'raw', type: 'thread.turn.start', payload: { input: 'no intentId' } }));
    await js.publish(subject, JSON.stringify({ threadId: 'raw', type: 'thread.turn.start', payload: { input: 'no intentId, again' } }));
    await js.publish(subject, JSON.stringify({ intentId: 'bad-type', threadId: 'raw', type: 'thread.nope', payload: {} }));
    await new Promise((resolve) => setTimeout(resolve, 2500)); // past two ack waits
    const after = await submit(a, 'healthy', { type: 'thread.turn.start', payload: { input: 'hi' } }, true);
    expect(after.body).toMatchObject({ status: 'completed', attempt: 1 });
    expect(await gauge(a, 'lanepool_jetstream_poison')).toBe(4);
    await until(async () => await gauge(a, 'lanepool_jetstream_inflight') === 0, 'nothing left unacknowledged');
    const info = await partitionConsumer(nc, stream, 0);
    expect(info.num_ack_pending).toBe(0);
  });

  it('takes a partition up again after its consumer is deleted under it', async () => {
    const stream = freshStream();
    const a = await start(stream, 'a', { natsPartitions: 1, shards: 1 });
    expect((await submit(a, 'before', { type: 'thread.turn.start', payload: { input: 'hi' } }, true)).body.status).toBe('completed');
    await (await nc.jetstreamManager()).consumers.delete(stream, (await partitionConsumer(nc, stream, 0)).name);
    // The client would retry the deleted consumer forever; the partition is handed back and taken again.
    const after = await submit(a, 'after', { type: 'thread.turn.start', payload: { input: 'hi' } }, true);
    expect(after.body).toMatchObject({ status: 'completed', attempt: 1 });
    expect(await gauge(a, 'lanepool_jetstream_takeovers')).toBe(2);
  });

  it('settles an intent whose result is too large to store, and refuses an intent too large to publish', async () => {
    // A server with a 64 KiB max_payload, as some deployments have.
    const small = await startNatsServer({ maxPayload: 65_536 });
    const a = await startNatsService(small, freshStream(), 'a', { natsPartitions: 1, shards: 1, handler: BIG_RESULT });
    try {
      const big = await submit(a, 'big', { type: 'thread.turn.start', payload: { input: '100000' } }, true);
      expect(big.body).toMatchObject({ status: 'completed', error: { code: 'ERR_RESULT_TOO_LARGE' } });
      expect(big.body.result).toBeUndefined();
      const fits = await submit(a, 'big', { type: 'thread.turn.start', payload: { input: '10' } }, true);
      expect(fits.body).toMatchObject({ status: 'completed', result: { output: 'xxxxxxxxxx' } });

      const huge = await submit(a, 'huge', { type: 'thread.turn.start', payload: { input: 'y'.repeat(100_000) }, intentId: 'huge-1' });
      expect(huge.status).toBe(413);
      expect(huge.body.error).toMatchObject({ code: 'ERR_BODY_TOO_LARGE', message: expect.stringMatching(/max_payload \(65536\)/) });
      expect((await http(a, 'GET', '/v1/intents/huge-1')).status).toBe(404);
      await until(async () => await gauge(a, 'lanepool_jetstream_inflight') === 0, 'nothing left unacknowledged');
    } finally {
      await a.shutdown();
      await small.stop();
    }
  });

  it('refuses to start with a lease TTL other than the lease bucket\'s', async () => {
    const stream = freshStream();
    await start(stream, 'a', { leaseTtlMs: 1000 });
    await expect(startNatsService(nats, stream, 'b', { leaseTtlMs: 3000 })).rejects.toMatchObject({
      code: 'ERR_CONFIG', message: expect.stringMatching(/--lease-ttl-ms.*after 1000 ms, not 3000/),
    });
  });

  it('applies a changed --records-max-age-ms to the existing intent bucket', async () => {
    const stream = freshStream();
    const first = await startNatsService(nats, stream, 'a', { recordsMaxAgeMs: 600_000 });
    await first.shutdown();
    await start(stream, 'a', { recordsMaxAgeMs: 120_000 });
    const status = await (await nc.jetstream().views.kv(`${stream}_intents`, { bindOnly: true })).status();
    expect(status.ttl).toBe(120_000);
  });

  it('reports the NATS server going away in /readyz and /metrics, and still shuts down', async () => {
    const own = await startNatsServer();
    const service = await startNatsService(own, freshStream(), 'a', { graceMs: 500 });
    try {
      expect((await http(service, 'GET', '/readyz')).body).toMatchObject({ status: 'ready', jetstream: { connected: true } });
      await own.stop();
      await until(async () => {
        const reply = await http(service, 'GET', '/readyz');
        return reply.status === 503 && reply.body.status === 'degraded' && reply.body.jetstream.connected === false;
      }, '/readyz to report NATS down');
      expect(await gauge(service, 'lanepool_jetstream_connected')).toBe(0);
      // Bounded by the grace period plus one lease TTL, although nothing can be handed over.
      await service.shutdown();
      expect(service.state()).toBe('closed');
    } finally {
      await service.shutdown();
      await own.stop();
    }
  });
});
