import { afterAll, describe, expect, it } from 'vitest';
import { DrainTimeoutError } from '../src/main/index.ts';
import { Gate, controlPool, outcome } from './helpers.ts';

describe('drain()', () => {
  const pool = controlPool({ shards: 2 });
  afterAll(() => pool.close({ force: true }));

  it('resolves at once when the pool is idle', async () => {
    let done = false;
    const drained = pool.drain().then(() => (done = true));
    await Promise.resolve();
    await Promise.resolve();
    expect(done).toBe(true);
    await drained;
  });

  it('waits for tasks added while draining', async () => {
    const gate = new Gate();
    const first = pool.run('d1', { op: 'gate', gate: gate.buffer, slot: 0 });
    let drained = false;
    const draining = pool.drain().then(() => (drained = true));
    const second = pool.run('d2', { op: 'gate', gate: gate.buffer, slot: 1 });
    gate.open(0);
    await first;
    // Let every message in flight land; the drain must still be waiting for d2.
    await pool.inspect();
    expect(drained).toBe(false);
    gate.open(1);
    await second;
    await draining;
    expect(drained).toBe(true);
    expect(pool.stats().lanes).toBe(0);
  });

  it('with timeoutMs, rejects with DrainTimeoutError naming the hung key', async () => {
    const hung = outcome(pool.run('hung-thread', { op: 'hang' }));
    await pool.run('healthy-thread', { op: 'echo' });
    const result = await outcome(pool.drain({ timeoutMs: 200 }));
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.error).toBeInstanceOf(DrainTimeoutError);
      expect(result.error).toMatchObject({ code: 'ERR_DRAIN_TIMEOUT', keys: ['hung-thread'], timeoutMs: 200 });
      expect(result.error.message).toContain('hung-thread');
    }
    pool.cancel('hung-thread');
    await hung;
    await pool.drain({ timeoutMs: 10_000 });
  });
});
