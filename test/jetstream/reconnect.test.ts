/**
 * A nats-server restart under a running instance: the client reconnects, the pipelined writes'
 * inbox subscription comes back with it, and every intent accepted before, during and after the
 * restart settles, none twice.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from '../helpers.ts';
import { http, submit } from '../service/helpers.ts';
import { freshStream, ownedBy, ServiceSet, startNatsServer, type NatsServer } from './helpers.ts';

describe('JetStream mode: a NATS server restart', () => {
  let nats: NatsServer;
  const services = new ServiceSet(() => nats);

  beforeAll(async () => {
    nats = await startNatsServer();
  });
  afterAll(async () => {
    await services.shutdownAll();
    await nats?.stop();
  });

  it('settles every intent accepted before and after the server restarts, and keeps writing records', async () => {
    const a = await services.start(freshStream(), 'a', { natsPartitions: 4 });
    await until(async () => (await ownedBy(a)).length === 4, 'every partition held');
    const before = await Promise.all(Array.from({ length: 20 }, (_, i) => submit(a, `before-${i % 5}`, { type: 'thread.turn.start', payload: { input: `${i}` } }, true)));
    expect(before.map((reply) => reply.body.status)).toEqual(Array(20).fill('completed'));

    // Accepted (stored in the stream on disk), then the server goes away before they can run.
    // Each thread's first start takes 300 ms, so the restart finds intents running and queued behind them.
    const accepted = await Promise.all(Array.from({ length: 20 }, (_, i) => submit(a, `across-${i % 5}`, { type: 'thread.turn.start', payload: { input: `${i}`, simulate: { startHangMs: 300 } } })));
    expect(accepted.map((reply) => reply.status)).toEqual(Array(20).fill(202));
    await nats.restart();

    await until(async () => (await http(a, 'GET', '/readyz')).status === 200 && (await ownedBy(a)).length === 4, 'the instance back on the restarted server', 60_000);
    const after = await Promise.all(Array.from({ length: 20 }, (_, i) => submit(a, `after-${i % 5}`, { type: 'thread.turn.start', payload: { input: `${i}` } }, true)));
    expect(after.map((reply) => reply.body.status)).toEqual(Array(20).fill('completed'));

    for (const reply of accepted) {
      await until(async () => (await http(a, 'GET', `/v1/intents/${reply.body.intentId}`)).body.status === 'completed', `${reply.body.intentId} to complete`, 60_000);
    }
    const metrics = (await http(a, 'GET', '/metrics')).body as string;
    const completed = metrics.split('\n').filter((line: string) => line.startsWith('lanepool_intents_total{') && line.includes('outcome="completed"'))
      .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
    // Each of the 60 intents settled here once; a rerun after the restart settles once too, so no more than 60.
    expect(completed).toBe(60);
  }, 180_000);
});
