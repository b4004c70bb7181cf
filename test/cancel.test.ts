import { afterAll, describe, expect, it } from 'vitest';
import { LaneCancelledError } from '../src/main/index.ts';
import { Gate, controlPool, outcome } from './helpers.ts';

describe('cancel(key)', () => {
  const pool = controlPool({ shards: 2 });
  afterAll(() => pool.close({ force: true }));

  it('fires the running task signal, rejects it and every queued task, and later tasks run normally', async () => {
    const gate = new Gate();
    const running = outcome(pool.run('c1', { op: 'wait-abort', abortGate: gate.buffer, startedGate: gate.buffer, startedSlot: 1 }));
    await gate.reached(1);
    const queued = [1, 2, 3].map((n) => outcome(pool.run('c1', { op: 'echo', value: n, startedGate: gate.buffer, startedSlot: 2 })));
    expect(pool.cancel('c1', 'user pressed stop')).toBe(4);
    for (const result of await Promise.all([running, ...queued])) {
      expect(result.ok).toBe(false);
      if (!result.ok) {
        expect(result.error).toBeInstanceOf(LaneCancelledError);
        expect(result.error).toMatchObject({ code: 'ERR_LANE_CANCELLED', key: 'c1', reason: 'user pressed stop' });
      }
    }
    await gate.reached(0);
    expect(gate.value(0)).toBe(2); // the handler saw a LaneCancelledError on ctx.signal
    expect(await pool.run('c1', { op: 'echo', value: 'after' })).toMatchObject({ value: 'after' });
    expect(gate.value(2)).toBe(0); // none of the queued tasks ever started
  });

  it('returns 0 for a key with no work', () => {
    expect(pool.cancel('idle-key')).toBe(0);
  });

  it('rejects a bad key with a TypeError', () => {
    expect(() => pool.cancel('')).toThrow(TypeError);
  });
});

describe('a caller signal', () => {
  const pool = controlPool({ shards: 2 });
  afterAll(() => pool.close({ force: true }));

  it('removes a queued task without running it', async () => {
    const gate = new Gate();
    const head = pool.run('s1', { op: 'gate', gate: gate.buffer, slot: 0 });
    const controller = new AbortController();
    const victim = outcome(pool.run('s1', { op: 'echo', startedGate: gate.buffer, startedSlot: 1 }, { signal: controller.signal }));
    const after = pool.run('s1', { op: 'echo', value: 'third' });
    controller.abort();
    const result = await victim;
    expect(result.ok || result.error.code).toBe('ERR_LANE_CANCELLED');
    gate.open(0);
    await head;
    expect(await after).toMatchObject({ value: 'third' });
    expect(gate.value(1)).toBe(0);
  });

  it('fires ctx.signal of a running task, and the lane moves on', async () => {
    const gate = new Gate();
    const controller = new AbortController();
    const running = outcome(pool.run('s2', { op: 'wait-abort', abortGate: gate.buffer, startedGate: gate.buffer, startedSlot: 1 }, { signal: controller.signal }));
    await gate.reached(1);
    controller.abort(new Error('client went away'));
    const result = await running;
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.message).toContain('client went away');
    await gate.reached(0);
    expect(gate.value(0)).toBe(2);
    expect(await pool.run('s2', { op: 'echo', value: 'next' })).toMatchObject({ value: 'next' });
  });

  it('rejects at once when already aborted', async () => {
    const result = await outcome(pool.run('s3', { op: 'echo' }, { signal: AbortSignal.abort() }));
    expect(result.ok || result.error.code).toBe('ERR_LANE_CANCELLED');
    expect(pool.stats().lanes).toBe(0);
  });

  // The reason is the caller's value: String() of a null-prototype object throws, and so may a toString.
  it('rejects, never throws, when already aborted with a reason that cannot be printed', async () => {
    const controller = new AbortController();
    controller.abort(Object.create(null));
    let result;
    expect(() => (result = outcome(pool.run('s4', { op: 'echo' }, { signal: controller.signal })))).not.toThrow();
    expect((await result!)).toMatchObject({ ok: false, error: { code: 'ERR_LANE_CANCELLED' } });
  });

  it('cancels a running task whose signal aborts with a reason whose toString throws', async () => {
    const gate = new Gate();
    const controller = new AbortController();
    const running = outcome(pool.run('s5', { op: 'wait-abort', abortGate: gate.buffer, startedGate: gate.buffer, startedSlot: 1 }, { signal: controller.signal }));
    await gate.reached(1);
    // Before the fix the abort listener threw here: an uncaught exception, and the task stayed running.
    controller.abort({ toString() { throw new Error('unprintable'); } });
    expect(await running).toMatchObject({ ok: false, error: { code: 'ERR_LANE_CANCELLED' } });
    await gate.reached(0);
    expect(gate.value(0)).toBe(2);
  });
});
