/**
 * The pipelined publishes behind every intent's stream publish and record write, against a real
 * nats-server: acks come back to the right caller, the server's refusals keep their JetStream codes,
 * outstanding acks stay within their bound, and nothing waits forever (no stream, no answer, a
 * closed connection).
 */
import { connect, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PubAckRefused, PubAcks } from '../../src/main/jetstream/pub-acks.ts';
import { startNatsServer, type NatsServer } from './helpers.ts';

describe('JetStream mode: pipelined publishes', () => {
  let nats: NatsServer;
  let nc: NatsConnection;

  beforeAll(async () => {
    nats = await startNatsServer();
    nc = await connect({ servers: nats.url });
    const jsm = await nc.jetstreamManager();
    await jsm.streams.add({ name: 'ACKS', subjects: ['acks.>'] });
  });
  afterAll(async () => {
    await nc?.close();
    await nats?.stop();
  });

  it('answers each publish with its own sequence, in the order the stream stored them', async () => {
    const acks = PubAcks.of(nc);
    expect(PubAcks.of(nc)).toBe(acks); // one pipeline per connection
    const results = await Promise.all(Array.from({ length: 500 }, (_, i) => acks.publish(`acks.order.${i}`, JSON.stringify({ i }))));
    const seqs = results.map((ack) => ack.seq);
    expect(new Set(seqs).size).toBe(500);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(results.every((ack) => ack.stream === 'ACKS' && !ack.duplicate)).toBe(true);
    const jsm = await nc.jetstreamManager();
    for (const i of [0, 250, 499]) {
      const stored = await jsm.streams.getMessage('ACKS', { seq: results[i]!.seq });
      expect(stored.subject).toBe(`acks.order.${i}`);
      expect(stored.json()).toEqual({ i });
    }
    expect(acks.outstanding).toBe(0);
  });

  it('keeps the server\'s refusals: a wrong last subject sequence is code 10071, a duplicate id is reported', async () => {
    const acks = PubAcks.of(nc);
    const first = await acks.publish('acks.cas.k', 'one', { 'Nats-Expected-Last-Subject-Sequence': '0' });
    const refused = await acks.publish('acks.cas.k', 'two', { 'Nats-Expected-Last-Subject-Sequence': '0' }).then(() => undefined, (error: unknown) => error);
    expect(refused).toBeInstanceOf(PubAckRefused);
    expect((refused as PubAckRefused).errCode).toBe(10071);
    expect((refused as PubAckRefused).message).toMatch(/wrong last sequence/);
    const second = await acks.publish('acks.cas.k', 'two', { 'Nats-Expected-Last-Subject-Sequence': String(first.seq) });
    expect(second.seq).toBeGreaterThan(first.seq);

    const once = await acks.publish('acks.dup', 'x', { 'Nats-Msg-Id': 'dup-1' });
    const again = await acks.publish('acks.dup', 'x', { 'Nats-Msg-Id': 'dup-1' });
    expect(again).toEqual({ stream: 'ACKS', seq: once.seq, duplicate: true });

    const wrongStream = await acks.publish('acks.x', 'x', { 'Nats-Expected-Stream': 'OTHER' }).then(() => undefined, (error: unknown) => error);
    expect(wrongStream).toBeInstanceOf(PubAckRefused);
  });

  it('fails a publish no stream takes, one over max_payload, and one nobody answers, without waiting forever', async () => {
    const acks = PubAcks.of(nc);
    await expect(acks.publish('nowhere.at.all', 'x')).rejects.toThrow(/no responders/);
    await expect(acks.publish('acks.big', new Uint8Array(nc.info!.max_payload + 1))).rejects.toThrow(/MAX_PAYLOAD_EXCEEDED/);

    // A plain subscriber that never replies: the server has a responder, so only the timeout ends it.
    const silent = nc.subscribe('silent.>');
    const quick = await connect({ servers: nats.url });
    try {
      const started = performance.now();
      await expect(PubAcks.of(quick, { timeoutMs: 300 }).publish('silent.x', 'x')).rejects.toThrow(/TIMEOUT/);
      expect(performance.now() - started).toBeLessThan(10_000);
      expect(PubAcks.of(quick).outstanding).toBe(0);
    } finally {
      silent.unsubscribe();
      await quick.close();
    }
    // The pipeline still works after those failures.
    await expect(acks.publish('acks.after', 'x')).resolves.toMatchObject({ stream: 'ACKS' });
  });

  it('keeps at most maxOutstanding acks outstanding, and queues the rest in order instead of failing them', async () => {
    const bounded = await connect({ servers: nats.url });
    try {
      const acks = PubAcks.of(bounded, { maxOutstanding: 3 });
      let most = 0;
      const results = await Promise.all(Array.from({ length: 200 }, async (_, i) => {
        const ack = acks.publish(`acks.bounded.${i}`, String(i));
        most = Math.max(most, acks.outstanding);
        return ack;
      }));
      expect(most).toBeLessThanOrEqual(3);
      expect(most).toBeGreaterThan(0);
      const seqs = results.map((ack) => ack.seq);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    } finally {
      await bounded.close();
    }
  });

  it('fails what is outstanding when the connection closes, and refuses publishes after it', async () => {
    const closing = await connect({ servers: nats.url });
    const silent = closing.subscribe('silent.close');
    const acks = PubAcks.of(closing);
    const pending = acks.publish('silent.close', 'x').then(() => 'answered', (error: unknown) => String(error));
    await closing.flush();
    silent.unsubscribe();
    await closing.close();
    expect(await pending).toMatch(/closed/i);
    await expect(acks.publish('acks.late', 'x')).rejects.toThrow(/closed/i);
  });
});
