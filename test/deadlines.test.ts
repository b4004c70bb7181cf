import { afterAll, describe, expect, it } from 'vitest';
import { LaneTimeoutError } from '../src/main/index.ts';
import { Gate, controlPool, outcome, until } from './helpers.ts';

describe('deadlines', () => {
  const pool = controlPool({ shards: 2 });
  afterAll(() => pool.close({ force: true }));

  it('frees a lane whose handler ignores its signal, and counts the abandoned promise', async () => {
    const result = await outcome(pool.run('deadline-a', { op: 'hang' }, { timeoutMs: 100 }));
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error).toBeInstanceOf(LaneTimeoutError);
    expect(result.error).toMatchObject({ code: 'ERR_LANE_TIMEOUT', key: 'deadline-a', timeoutMs: 100 });
    // The lane moved on although the first handler never settles.
    expect(await pool.run('deadline-a', { op: 'echo', value: 'next' })).toMatchObject({ value: 'next' });
    await until(() => pool.stats().abandoned >= 1);
    expect(pool.stats().timedOut).toBeGreaterThanOrEqual(1);
  });

  it('fires ctx.signal with a LaneTimeoutError reason', async () => {
    const gate = new Gate();
    const result = await outcome(pool.run('deadline-b', { op: 'wait-abort', abortGate: gate.buffer }, { timeoutMs: 50 }));
    expect(result.ok || result.error.code).toBe('ERR_LANE_TIMEOUT');
    await gate.reached(0);
    expect(gate.value(0)).toBe(1);
  });

  it('counts the deadline from the start, not from when the task was queued', async () => {
    const gate = new Gate();
    const head = pool.run('deadline-c', { op: 'gate', gate: gate.buffer, slot: 0 });
    const queued = pool.run('deadline-c', { op: 'echo', value: 'late' }, { timeoutMs: 1000 });
    // Keep it queued for longer than its deadline; counted from queueing it would certainly expire.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    gate.open(0);
    await head;
    expect(await queued).toMatchObject({ value: 'late' });
  });

  it('applies the pool default taskTimeoutMs, and timeoutMs: 0 turns it off for one task', async () => {
    const strict = controlPool({ shards: 1, taskTimeoutMs: 50 });
    try {
      expect((await outcome(strict.run('k', { op: 'hang' }))).ok).toBe(false);
      const gate = new Gate();
      const patient = strict.run('k2', { op: 'gate', gate: gate.buffer, slot: 0 }, { timeoutMs: 0 });
      await new Promise((resolve) => setTimeout(resolve, 200));
      gate.open(0);
      expect(await patient).toBe('released');
    } finally {
      await strict.close({ force: true });
    }
  });
});
