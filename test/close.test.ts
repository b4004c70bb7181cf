import { describe, expect, it } from 'vitest';
import { LaneCancelledError, PoolClosedError } from '../src/main/index.ts';
import { Gate, controlPool, outcome } from './helpers.ts';

describe('close()', () => {
  it('waits for running and queued tasks, then refuses new ones with PoolClosedError', async () => {
    const pool = controlPool({ shards: 2 });
    const gate = new Gate();
    const running = pool.run('c', { op: 'gate', gate: gate.buffer, slot: 0, startedGate: gate.buffer, startedSlot: 1 });
    const queued = pool.run('c', { op: 'echo', value: 'queued' });
    await gate.reached(1);
    let closed = false;
    const closing = pool.close().then(() => (closed = true));
    const refused = await outcome(pool.run('c', { op: 'echo' }));
    expect(refused.ok || refused.error).toBeInstanceOf(PoolClosedError);
    expect(refused.ok || refused.error.code).toBe('ERR_POOL_CLOSED');
    await pool.inspect();
    expect(closed).toBe(false);
    gate.open(0);
    expect(await running).toBe('released');
    expect(await queued).toMatchObject({ value: 'queued' });
    await closing;
    expect(closed).toBe(true);
    expect(pool.stats().shards.every((s) => s.state === 'closed')).toBe(true);
  });

  it('with force, cancels running and queued tasks instead of waiting', async () => {
    const pool = controlPool({ shards: 2 });
    const hung = outcome(pool.run('f', { op: 'hang' }));
    const queued = outcome(pool.run('f', { op: 'echo' }));
    await pool.run('g', { op: 'echo' });
    await pool.close({ force: true });
    for (const result of await Promise.all([hung, queued])) {
      expect(result.ok || result.error).toBeInstanceOf(LaneCancelledError);
      expect(result.ok || (result.error as LaneCancelledError).reason).toBe('pool closed');
    }
  });

  it('forces a close that is already waiting, and returns the same promise to every caller', async () => {
    const pool = controlPool({ shards: 1 });
    const hung = outcome(pool.run('h', { op: 'hang' }));
    const gentle = pool.close();
    const forced = pool.close({ force: true });
    await Promise.all([gentle, forced]);
    expect((await hung).ok).toBe(false);
    await pool.close();
    await pool.drain();
  });

  it('rejects bad close options with a TypeError', async () => {
    const pool = controlPool({ shards: 1 });
    await expect(pool.close({ force: 'yes' as unknown as boolean })).rejects.toThrow(/options\.force/);
    await pool.close();
  });
});
