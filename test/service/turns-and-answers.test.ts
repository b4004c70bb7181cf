import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Service } from '../../src/main/service/server.ts';
import { http, startTestService, submit } from './helpers.ts';
import { openEvents, settlementOf } from './sse-client.ts';

describe('a turn holds its thread\'s lane until it ends; the answers it waits for get past it', () => {
  let service: Service;
  beforeAll(async () => (service = await startTestService()));
  afterAll(() => service.shutdown());

  it('answers an approval during the running turn, as a control intent, and the decision shapes the turn', async () => {
    const events = await openEvents(service, 'approve');
    await submit(service, 'approve', { type: 'thread.turn.start', payload: { input: 'rm -rf build', simulate: { approval: true } }, intentId: 'approve-turn' });
    // The thread's next turn queues behind the one waiting for the answer.
    await submit(service, 'approve', { type: 'thread.turn.start', payload: { input: 'next' }, intentId: 'approve-next' });
    const asked = await events.waitFor((frame) => frame.data.kind === 'approval.requested', 'the approval request');
    expect(asked.data).toMatchObject({ threadId: 'approve', intentId: 'approve-turn', turnId: 'turn-1' });
    expect(typeof asked.data.requestId).toBe('string');
    expect((await http(service, 'GET', '/v1/intents/approve-turn')).body.status).toBe('running');
    expect((await http(service, 'GET', '/v1/intents/approve-next')).body.status).toBe('queued');

    const answer = await submit(service, 'approve', { type: 'thread.approval.respond', payload: { requestId: asked.data.requestId, decision: 'accept' } }, true);
    expect(answer.body).toMatchObject({ status: 'completed', result: { requestId: asked.data.requestId, decision: 'accept', matched: true } });

    const turn = await events.waitFor(settlementOf('approve-turn'), 'the turn\'s settlement');
    expect(turn.data).toMatchObject({ status: 'completed', result: { turnId: 'turn-1', status: 'completed', output: { approval: 'accept' } } });
    const next = await events.waitFor(settlementOf('approve-next'), 'the next turn\'s settlement');
    events.close();
    // The answer settled while the turn ran; the next turn began only after the turn had settled.
    const answerAt = events.frames.findIndex(settlementOf(answer.body.intentId));
    const turnAt = events.frames.indexOf(turn);
    const nextStartedAt = events.frames.findIndex((frame) => frame.data.intentId === 'approve-next' && frame.data.kind === 'turn.started');
    expect(answerAt).toBeLessThan(turnAt);
    expect(turnAt).toBeLessThan(nextStartedAt);
    expect(next.data.result.turnId).toBe('turn-2');
  });

  it('ends a turn as interrupted when its approval is answered cancel', async () => {
    const events = await openEvents(service, 'cancel-approval');
    await submit(service, 'cancel-approval', { type: 'thread.turn.start', payload: { input: 'x', simulate: { approval: true } }, intentId: 'cancel-approval-turn' });
    const asked = await events.waitFor((frame) => frame.data.kind === 'approval.requested', 'the approval request');
    await submit(service, 'cancel-approval', { type: 'thread.approval.respond', payload: { requestId: asked.data.requestId, decision: 'cancel' } }, true);
    const turn = await events.waitFor(settlementOf('cancel-approval-turn'), 'the turn\'s settlement');
    events.close();
    expect(turn.data.result).toMatchObject({ status: 'interrupted', output: { approval: 'cancel', interrupted: true } });
  });

  it('answers a user-input request during the running turn, and the turn gets the answers', async () => {
    const events = await openEvents(service, 'ask');
    await submit(service, 'ask', { type: 'thread.turn.start', payload: { input: 'x', simulate: { userInput: true } }, intentId: 'ask-turn' });
    const asked = await events.waitFor((frame) => frame.data.kind === 'user-input.requested', 'the user-input request');
    const answer = await submit(service, 'ask', { type: 'thread.user-input.respond', payload: { requestId: asked.data.requestId, answers: { q1: 'the second' } } }, true);
    expect(answer.body).toMatchObject({ status: 'completed', result: { matched: true } });
    const turn = await events.waitFor(settlementOf('ask-turn'), 'the turn\'s settlement');
    events.close();
    expect(turn.data.result).toMatchObject({ status: 'completed', output: { answers: { q1: 'the second' } } });
  });

  it('ends a hung turn with an interrupt, which settles it as interrupted and lets the next turn run', async () => {
    const events = await openEvents(service, 'hung');
    await submit(service, 'hung', { type: 'thread.turn.start', payload: { input: 'x', simulate: { turnHangMs: 'forever' } }, intentId: 'hung-turn' });
    await submit(service, 'hung', { type: 'thread.turn.start', payload: { input: 'y' }, intentId: 'hung-next' });
    await events.waitFor((frame) => frame.data.intentId === 'hung-turn' && frame.data.kind === 'turn.started', 'the hung turn\'s start');
    expect((await http(service, 'GET', '/v1/intents/hung-next')).body.status).toBe('queued');
    const interrupt = await submit(service, 'hung', { type: 'thread.turn.interrupt', payload: {} }, true);
    expect(interrupt.body).toMatchObject({ status: 'completed', result: { interrupted: true } });
    const turn = await events.waitFor(settlementOf('hung-turn'), 'the hung turn\'s settlement');
    expect(turn.data.result).toMatchObject({ turnId: 'turn-1', status: 'interrupted' });
    const next = await events.waitFor(settlementOf('hung-next'), 'the next turn\'s settlement');
    events.close();
    expect(next.data.result).toMatchObject({ turnId: 'turn-2', status: 'completed' });
  });

  it('still stops a thread whose turn waits for an answer', async () => {
    const events = await openEvents(service, 'stop-waiting');
    await submit(service, 'stop-waiting', { type: 'thread.turn.start', payload: { input: 'x', simulate: { approval: true } }, intentId: 'stop-waiting-turn' });
    await events.waitFor((frame) => frame.data.kind === 'approval.requested', 'the approval request');
    const stop = await submit(service, 'stop-waiting', { type: 'thread.session.stop', payload: {} }, true);
    expect(stop.body).toMatchObject({ status: 'completed', result: { stopped: true } });
    const turn = await events.waitFor(settlementOf('stop-waiting-turn'), 'the turn\'s settlement');
    events.close();
    expect(turn.data).toMatchObject({ status: 'cancelled', error: { code: 'ERR_LANE_CANCELLED' } });
  });
});
