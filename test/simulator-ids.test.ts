import { describe, expect, it } from 'vitest';
import type { ProviderSession } from '../src/shared/service/provider.ts';
import { createSimulator } from '../src/worker/service/simulator.ts';

const call = () => ({ signal: new AbortController().signal, intentId: 'i', attempt: 1, emit: () => {} });
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
  });

  it('carry on across a session resumed from the cursor, even in another worker\'s simulator', async () => {
    const sim = createSimulator(settings);
    const first: ProviderSession = await sim.startSession({ ...call(), threadId: 't', runtimeMode: 'default' });
    for (let i = 0; i < 2; i++) first.cursor = (await sim.sendTurn(first, { ...call(), input: 'x' })).cursor;
    await sim.stopSession(first, call());
    const elsewhere = createSimulator(settings);
    const second = await elsewhere.startSession({ ...call(), threadId: 't', runtimeMode: 'plan', resumeCursor: first.cursor });
    expect(second.sessionId).toBe('sim-t-3');
    expect(second.sessionId).not.toBe(first.sessionId);
    expect((await elsewhere.sendTurn(second, { ...call(), input: 'x' })).turnId).toBe('turn-3');
  });
});
