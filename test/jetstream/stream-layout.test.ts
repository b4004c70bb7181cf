/**
 * How intents are laid out on the NATS server, shown against a real nats-server: what a takeover's
 * fresh consumer delivers after acknowledgements out of order, and what an earlier hold's late ack
 * or pull can still do to it. These are the two ways a paused owner's partition lost intents
 * (zombie-owner.test.ts is the attack as a whole); the reasons are in topology.ts.
 */
import { AckPolicy, RetentionPolicy, StorageType, type JetStreamClient, type JetStreamManager, type JsMsg, type NatsConnection } from 'nats';
import { connect } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consumerOf, ensureStream, recreateConsumer, subjectOf, topology, type Topology } from '../../src/main/jetstream/topology.ts';
import { freshStream, startNatsServer, type NatsServer } from './helpers.ts';

const SETTINGS = { ackWaitMs: 30_000, maxAckPending: 100 };

describe('JetStream mode: stream layout', () => {
  let nats: NatsServer;
  let nc: NatsConnection;
  let js: JetStreamClient;
  let jsm: JetStreamManager;

  beforeAll(async () => {
    nats = await startNatsServer();
    nc = await connect({ servers: nats.url });
    js = nc.jetstream();
    jsm = await nc.jetstreamManager();
  });
  afterAll(async () => {
    await nc?.close();
    await nats?.stop();
  });

  async function stream(): Promise<Topology> {
    const topo = topology(freshStream(), 2);
    await ensureStream(jsm, topo);
    return topo;
  }

  /** Publishes intents `ids` to partition `p`, as the front does. */
  async function publish(topo: Topology, p: number, ids: string[]): Promise<void> {
    for (const id of ids) await js.publish(subjectOf(topo, p, id), JSON.stringify({ intentId: id }), { msgID: id });
  }

  /** What hold `lease`'s consumer of partition 0 delivers now, as intentIds (waits up to `expiresMs` for them). */
  async function deliveries(topo: Topology, lease: number, max: number, expiresMs = 2000): Promise<JsMsg[]> {
    const consumer = await js.consumers.get(topo.stream, consumerOf(0, lease));
    const got: JsMsg[] = [];
    for await (const msg of await consumer.fetch({ max_messages: max, expires: expiresMs })) got.push(msg);
    return got;
  }

  const ids = (msgs: JsMsg[]): string[] => msgs.map((msg) => msg.json<{ intentId: string }>().intentId);

  it('delivers, after a takeover, an intent left unacknowledged between acknowledged ones of its partition', async () => {
    const topo = await stream();
    await recreateConsumer(jsm, topo, 0, SETTINGS, 1);
    // Interleaved with another partition's, as in any busy stream (with one subject in the stream the server scans it linearly).
    for (const k of [1, 2, 3]) {
      await publish(topo, 0, [`t-${k}`]);
      await publish(topo, 1, [`other-${k}`]);
    }
    const first = await deliveries(topo, 1, 3);
    expect(ids(first)).toEqual(['t-1', 't-2', 't-3']);
    // Lanes finish out of order: t-3's thread is done first, then t-1's; t-2 is still running when the hold ends.
    for (const msg of [first[2]!, first[0]!]) await msg.ackAck();

    await recreateConsumer(jsm, topo, 0, SETTINGS, 2);
    expect(ids(await deliveries(topo, 2, 3, 1000))).toEqual(['t-2']);
  });

  it('drops an earlier hold\'s late ack instead of letting it delete the message from the next hold\'s consumer', async () => {
    const topo = await stream();
    await recreateConsumer(jsm, topo, 0, SETTINGS, 1);
    await publish(topo, 0, ['late-ack']);
    const [delivered] = await deliveries(topo, 1, 1);
    await recreateConsumer(jsm, topo, 0, SETTINGS, 2);

    // The paused owner wakes and its ack, decided before the pause, goes out now.
    delivered!.ack();
    await nc.flush();
    expect((await jsm.streams.info(topo.stream)).state.messages).toBe(1);
    expect(ids(await deliveries(topo, 2, 1))).toEqual(['late-ack']);
  });

  it('gives an earlier hold\'s late pull nothing of the next hold\'s consumer', async () => {
    const topo = await stream();
    await recreateConsumer(jsm, topo, 0, SETTINGS, 1);
    const stale = await js.consumers.get(topo.stream, consumerOf(0, 1));
    await recreateConsumer(jsm, topo, 0, SETTINGS, 2);
    await publish(topo, 0, ['late-pull']);

    // Its client pulls again on waking; whatever it got would wait out the ack wait, overtaken by the thread's next intents.
    const pulled: JsMsg[] = [];
    await (async () => {
      for await (const msg of await stale.fetch({ max_messages: 1, expires: 1000 })) pulled.push(msg);
    })().catch(() => {}); // the consumer is gone: the fetch may fail, which is as good as empty
    expect(pulled).toEqual([]);
    expect(ids(await deliveries(topo, 2, 1))).toEqual(['late-pull']);
  });

  it('widens a stream made before intents had a subject each, and a new hold replaces its old consumer', async () => {
    const topo = topology(freshStream(), 2);
    await jsm.streams.add({
      name: topo.stream, description: 'lanepool intents; partitions=2', subjects: [`${topo.stream}.intents.*`],
      retention: RetentionPolicy.Workqueue, storage: StorageType.File,
    });
    await jsm.consumers.add(topo.stream, { durable_name: 'p0', filter_subject: `${topo.stream}.intents.0`, ack_policy: AckPolicy.Explicit });
    await ensureStream(jsm, topo);
    expect((await jsm.streams.info(topo.stream)).config.subjects).toEqual([`${topo.stream}.intents.>`]);

    await recreateConsumer(jsm, topo, 0, SETTINGS, 7);
    const names: string[] = [];
    for await (const info of jsm.consumers.list(topo.stream)) names.push(info.name);
    expect(names).toEqual(['p0-7']);
    await publish(topo, 0, ['upgraded']);
    expect(ids(await deliveries(topo, 7, 1))).toEqual(['upgraded']);
  });
});
