import { afterAll, describe, expect, it } from 'vitest';
import { LaneCancelledError } from '../src/main/index.ts';
import { Gate, controlPool, outcome, until } from './helpers.ts';

describe('abort semantics', () => {
  const pool = controlPool({ shards: 2 });
  afterAll(() => pool.close({ force: true }));

  it("carries the caller's signal.reason as cause, for a running and a queued task", async () => {
    const controller = new AbortController();
    const why = new Error('user pressed stop');
    const gate = new Gate();
    const running = outcome(pool.run('a1', { op: 'hang', startedGate: gate.buffer }, { signal: controller.signal }));
    const queued = outcome(pool.run('a1', { op: 'echo' }, { signal: controller.signal }));
    await gate.reached(0);
    controller.abort(why);
    for (const result of [await running, await queued]) {
      expect(result.ok).toBe(false);
      if (!result.ok) {
        expect(result.error).toBeInstanceOf(LaneCancelledError);
        expect(result.error.cause).toBe(why);
      }
    }
  });

  it('tells AbortSignal.timeout(), a bare abort() and cancel(key) apart', async () => {
    const timedOut = await outcome(pool.run('a2', { op: 'hang' }, { signal: AbortSignal.timeout(50) }));
    const controller = new AbortController();
    const aborted = outcome(pool.run('a3', { op: 'hang' }, { signal: controller.signal }));
    controller.abort();
    const cancelled = outcome(pool.run('a4', { op: 'hang' }));
    await until(() => pool.busyKeys().includes('a4'));
    pool.cancel('a4', 'stop');
    const causes = [timedOut, await aborted, await cancelled].map((r) => (r.ok ? 'resolved' : (r.error.cause as DOMException | undefined)?.name));
    expect(causes).toEqual(['TimeoutError', 'AbortError', undefined]);
  });

  it('rejects at once, with the cause, for a signal that is already aborted', async () => {
    const result = await outcome(pool.run('a5', { op: 'echo' }, { signal: AbortSignal.abort('too late') }));
    expect(result).toMatchObject({ ok: false, error: { code: 'ERR_LANE_CANCELLED', cause: 'too late' } });
  });

  it('drain({ signal }) rejects with signal.reason and leaves the tasks running', async () => {
    const gate = new Gate();
    const task = pool.run('a6', { op: 'gate', gate: gate.buffer, slot: 0 });
    const controller = new AbortController();
    const draining = outcome(pool.drain({ signal: controller.signal }));
    const why = new Error('gave up waiting');
    controller.abort(why);
    expect(await draining).toEqual({ ok: false, error: why });
    expect(pool.busyKeys()).toContain('a6');
    gate.open(0);
    expect(await task).toBe('released');
  });

  it('ready({ signal }) rejects with signal.reason when it aborts first, and resolves otherwise', async () => {
    const fresh = controlPool({ shards: 1 });
    try {
      expect(await outcome(fresh.ready({ signal: AbortSignal.abort('no') }))).toEqual({ ok: false, error: 'no' });
      await fresh.ready({ signal: new AbortController().signal });
    } finally {
      await fresh.close();
    }
  });

  it('close({ signal }) rejects with signal.reason, keeps refusing new tasks, and a forced close then finishes', async () => {
    const fresh = controlPool({ shards: 1 });
    const hung = outcome(fresh.run('h', { op: 'hang' }));
    await until(() => fresh.stats().running === 1);
    const closing = outcome(fresh.close({ signal: AbortSignal.timeout(50) }));
    const result = await closing;
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.name).toBe('TimeoutError');
    expect(await outcome(fresh.run('h2', { op: 'echo' }))).toMatchObject({ ok: false, error: { code: 'ERR_POOL_CLOSED' } });
    await fresh.close({ force: true });
    expect(await hung).toMatchObject({ ok: false, error: { code: 'ERR_LANE_CANCELLED' } });
  });

  it('refuses a signal that is not an AbortSignal, naming the option', async () => {
    for (const call of [() => pool.drain({ signal: 'x' as never }), () => pool.ready({ signal: 1 as never }), () => pool.close({ signal: {} as never })]) {
      const result = await outcome(call());
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.error.message).toMatch(/options\.signal must be an AbortSignal/);
    }
  });
});
