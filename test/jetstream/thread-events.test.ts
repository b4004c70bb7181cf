import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shardFor } from '../../src/main/routing.ts';
import { until } from '../helpers.ts';
import { http, submit } from '../service/helpers.ts';
import { openEvents, settlementOf, type Frame } from '../service/sse-client.ts';
import { freshStream, ownedBy, ServiceSet, startNatsServer, type NatsServer } from './helpers.ts';

const describeFrames = (frames: Frame[]) => frames.map((frame) => [frame.id, frame.event, frame.data.kind ?? frame.data.intentId]);

describe('JetStream mode: thread events', () => {
  let nats: NatsServer;
  const services = new ServiceSet(() => nats);

  beforeAll(async () => {
    nats = await startNatsServer();
  });
  afterAll(async () => {
    await services.shutdownAll();
    await nats?.stop();
  });

  it('reach an events client on another instance than the one running the thread, with the same ids there, and answers get past the turn', async () => {
    const stream = freshStream();
    // Two partitions, one each: the thread's runs on `a`, its client follows it on `b`.
    const a = await services.start(stream, 'a', { natsPartitions: 2, partitions: '0' as never });
    const b = await services.start(stream, 'b', { natsPartitions: 2, partitions: '1' as never });
    await until(async () => (await ownedBy(a)).length === 1 && (await ownedBy(b)).length === 1, 'both partitions held');
    let threadId = 'far-0';
    for (let i = 1; shardFor(threadId, 2) !== 0; i++) threadId = `far-${i}`;

    const onB = await openEvents(b, threadId);
    const onA = await openEvents(a, threadId);
    await submit(b, threadId, { type: 'thread.turn.start', payload: { input: 'x', simulate: { items: 2, approval: true } }, intentId: `${threadId}-turn` });
    const asked = await onB.waitFor((frame) => frame.data.kind === 'approval.requested', 'the approval request on b');
    const answer = await submit(b, threadId, { type: 'thread.approval.respond', payload: { requestId: asked.data.requestId, decision: 'accept' } }, true);
    expect(answer.body).toMatchObject({ status: 'completed', instance: 'a', result: { matched: true } });
    const turn = await onB.waitFor(settlementOf(`${threadId}-turn`), 'the turn\'s settlement on b');
    expect(turn.data).toMatchObject({ status: 'completed', instance: 'a', result: { status: 'completed', output: { approval: 'accept' } } });
    await onA.waitFor(settlementOf(`${threadId}-turn`), 'the turn\'s settlement on a');
    onB.close();
    onA.close();

    const kinds = onB.frames.map((frame) => frame.data.kind ?? (frame.data.intentId === answer.body.intentId ? 'answer' : 'turn'));
    expect(kinds).toEqual(['turn.started', 'item.completed', 'item.completed', 'approval.requested', 'answer', 'turn.completed', 'turn']);
    const ids = onB.frames.map((frame) => frame.id!);
    for (let i = 1; i < ids.length; i++) expect(ids[i]!).toBeGreaterThan(ids[i - 1]!);
    // One stream of ids for the deployment: both instances show the same frames.
    expect(describeFrames(onA.frames)).toEqual(describeFrames(onB.frames));

    // A client that moves to the other instance resumes there from its Last-Event-ID.
    await submit(a, threadId, { type: 'thread.turn.start', payload: { input: 'y' }, intentId: `${threadId}-next` }, true);
    const resumed = await openEvents(a, threadId, turn.id);
    await resumed.waitFor(settlementOf(`${threadId}-next`), 'the next turn\'s settlement');
    resumed.close();
    expect(resumed.frames.map((frame) => frame.data.kind ?? frame.data.intentId)).toEqual(['turn.started', 'turn.completed', `${threadId}-next`]);
    expect(resumed.frames[0]!.id).toBeGreaterThan(turn.id!);
  });

  it('keep ids increasing for a thread across a takeover, and a new instance says what it cannot vouch for', async () => {
    const stream = freshStream();
    const a = await services.start(stream, 'a2', { natsPartitions: 1 });
    const b = await services.start(stream, 'b2', { natsPartitions: 1 });
    await until(async () => (await ownedBy(a)).length + (await ownedBy(b)).length === 1, 'the partition held');
    const [owner, other] = (await ownedBy(a)).length === 1 ? [a, b] : [b, a];
    const events = await openEvents(other, 'moved');
    await submit(other, 'moved', { type: 'thread.turn.start', payload: { input: 'one' }, intentId: 'moved-1' }, true);
    const first = await events.waitFor(settlementOf('moved-1'), 'the first settlement');
    // The owner hands the partition over as it shuts down; the other instance takes it.
    await owner.shutdown();
    await until(async () => (await ownedBy(other)).length === 1, 'the takeover');
    await submit(other, 'moved', { type: 'thread.turn.start', payload: { input: 'two' }, intentId: 'moved-2' }, true);
    const second = await events.waitFor(settlementOf('moved-2'), 'the second settlement');
    events.close();
    expect(second.id).toBeGreaterThan(first.id!);
    expect(second.data.instance).toBe(other === a ? 'a2' : 'b2');
    const ids = events.frames.map((frame) => frame.id!);
    for (let i = 1; i < ids.length; i++) expect(ids[i]!).toBeGreaterThan(ids[i - 1]!);

    // An instance started now never saw the thread's earlier events: a resume from before it began is a gap.
    const late = await services.start(stream, 'c2', { natsPartitions: 1 });
    const fromLate = await openEvents(late, 'moved', first.id);
    const gap = await fromLate.waitFor((frame) => frame.event === 'gap', 'a gap');
    fromLate.close();
    expect(gap.data).toMatchObject({ threadId: 'moved', lastEventId: first.id, reason: 'unknown' });
    expect(gap.data.lostThrough).toBeGreaterThanOrEqual(second.id!);
    expect((await http(late, 'GET', '/healthz')).status).toBe(200);
  });
});
