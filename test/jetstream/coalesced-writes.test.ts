/**
 * Coalesced NATS writes (src/main/jetstream/coalesced-writes.ts) against a real nats-server: the
 * patch takes hold on the pinned client (so an upgrade that changes its internals fails here, not
 * silently in production), many tasks' publishes leave in far fewer socket writes, in order, and
 * requests and flushes still work.
 */
import { connect, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { coalesceWrites } from '../../src/main/jetstream/coalesced-writes.ts';
import { startNatsServer, type NatsServer } from './helpers.ts';

/** Counts the socket writes of `nc` (the transport's `send`, an internal of the client). */
function countWrites(nc: NatsConnection): () => number {
  const transport = (nc as unknown as { protocol: { transport: { send(data: Uint8Array): void } } }).protocol.transport;
  const send = transport.send.bind(transport);
  let writes = 0;
  transport.send = (data) => {
    writes++;
    send(data);
  };
  return () => writes;
}

/** Publishes `count` messages, each from its own task (a setImmediate callback), all in one turn. */
async function publishFromTasks(nc: NatsConnection, subject: string, count: number): Promise<void> {
  await Promise.all(Array.from({ length: count }, (_, i) => new Promise<void>((resolve) => setImmediate(() => {
    nc.publish(subject, String(i));
    resolve();
  }))));
  await nc.flush();
}

describe('JetStream mode: coalesced NATS writes', () => {
  let nats: NatsServer;

  beforeAll(async () => {
    nats = await startNatsServer();
  });
  afterAll(async () => {
    await nats?.stop();
  });

  it('takes hold on the pinned client, and sends many tasks\' publishes in a few writes, in order', async () => {
    const receiver = await connect({ servers: nats.url });
    const plain = await connect({ servers: nats.url });
    const coalesced = await connect({ servers: nats.url });
    try {
      expect(coalesceWrites(coalesced)).toBe(true);
      const got: string[] = [];
      const sub = receiver.subscribe('coalesce.>', { callback: (_error, msg) => got.push(`${msg.subject}:${msg.string()}`) });
      await receiver.flush();

      const plainWrites = countWrites(plain);
      await publishFromTasks(plain, 'coalesce.plain', 200);
      const coalescedWrites = countWrites(coalesced);
      await publishFromTasks(coalesced, 'coalesce.joined', 200);
      await receiver.flush();
      await new Promise((resolve) => setTimeout(resolve, 200));

      // Without the patch every task writes its own publish; with it, one write carries them all.
      expect(plainWrites()).toBeGreaterThanOrEqual(200);
      expect(coalescedWrites()).toBeLessThanOrEqual(5);
      const joined = got.filter((line) => line.startsWith('coalesce.joined:'));
      expect(joined).toEqual(Array.from({ length: 200 }, (_, i) => `coalesce.joined:${i}`));
      sub.unsubscribe();

      // Requests and their replies still flow.
      receiver.subscribe('coalesce.echo', { callback: (_error, msg) => msg.respond(msg.data) });
      await receiver.flush();
      const reply = await coalesced.request('coalesce.echo', 'ping', { timeout: 5000 });
      expect(reply.string()).toBe('ping');
    } finally {
      await Promise.all([receiver.close(), plain.close(), coalesced.close()]);
    }
  });

  it('leaves a connection without the expected internals as it is', () => {
    const unlike = {} as unknown as NatsConnection;
    expect(coalesceWrites(unlike)).toBe(false);
  });
});
