import { describe, expect, it } from 'vitest';
import { createSimulator } from '../src/worker/simulator.ts';

const call = () => ({ signal: new AbortController().signal, intentId: 'i', attempt: 1 });
const settings = { startMs: 0, sendMs: 0, interruptMs: 0, stopMs: 0 };

describe('simulator ids', () => {
  it('number sessions and turns per thread, whatever other threads of the worker do', async () => {
    const sim = createSimulator(settings);
    const a = await sim.startSession({ ...call(), threadId: 'a', runtimeMode: 'default' });
    const b = await sim.startSession({ ...call(), threadId: 'b', runtimeMode: 'default' });
    expect([a.sessionId, b.sessionId]).toEqual(['sim-a-1', 'sim-b-1']);
    const turns = [];
    for (const session of [a, b, a, b, a]) {
      const turn = await sim.sendTurn(session, { ...call(), input: 'x' });
      session.cursor = turn.cursor;
      turns.push(turn.turnId);
    }
    expect(turns).toEqual(['turn-1', 'turn-1', 'turn-2', 'turn-2', 'turn-3']);
    // A second live session of the thread (a restart in a new mode) counts on, and resumes the turns.
    const a2 = await sim.startSession({ ...call(), threadId: 'a', runtimeMode: 'plan', resumeCursor: a.cursor });
    expect(a2.sessionId).toBe('sim-a-2');
    expect((await sim.sendTurn(a2, { ...call(), input: 'x' })).turnId).toBe('turn-4');
  });

  it('forgets a thread once its sessions are stopped, so its memory is bounded by live sessions', async () => {
    const sim = createSimulator(settings);
    const first = await sim.startSession({ ...call(), threadId: 't', runtimeMode: 'default' });
    const second = await sim.startSession({ ...call(), threadId: 't', runtimeMode: 'default' });
    await sim.stopSession(first, call());
    const third = await sim.startSession({ ...call(), threadId: 't', runtimeMode: 'default' });
    expect(third.sessionId).toBe('sim-t-3');
    await sim.stopSession(second, call());
    await sim.stopSession(third, call());
    expect((await sim.startSession({ ...call(), threadId: 't', runtimeMode: 'default' })).sessionId).toBe('sim-t-1');
  });
});
