import { afterAll, describe, expect, it } from 'vitest';
import { QueueFullError } from '../src/main/index.ts';
import { Gate, controlPool, outcome } from './helpers.ts';

describe('backpressure', () => {
  const pool = controlPool({ shards: 2, maxQueuedPerKey: 3, maxQueued: 6 });
  afterAll(() => pool.close({ force: true }));

  it('rejects past maxQueuedPerKey at once, and loses none of the accepted tasks', async () => {
    const gate = new Gate();
    const accepted = [0, 1, 2].map((n) => pool.run('bp', { op: 'gate', gate: gate.buffer, slot: 0, value: n }));
    const refused = await outcome(pool.run('bp', { op: 'echo' }));
    expect(refused.ok).toBe(false);
    if (!refused.ok) {
      expect(refused.error).toBeInstanceOf(QueueFullError);
      expect(refused.error).toMatchObject({ code: 'ERR_QUEUE_FULL', key: 'bp', limit: 'maxQueuedPerKey', max: 3 });
    }
    // Another key is not affected by this key's limit.
    expect(await pool.run('other', { op: 'echo', value: 1 })).toMatchObject({ value: 1 });
    gate.open(0);
    expect(await Promise.all(accepted)).toEqual([0, 1, 2]);
    // Room again once the lane has drained.
    expect(await pool.run('bp', { op: 'echo', value: 'again' })).toMatchObject({ value: 'again' });
  });

  it('rejects past maxQueued for the whole pool', async () => {
    const gate = new Gate();
    const accepted = Array.from({ length: 6 }, (_, n) => pool.run(`k${n}`, { op: 'gate', gate: gate.buffer, slot: 0, value: n }));
    const refused = await outcome(pool.run('k-extra', { op: 'echo' }));
    expect(refused.ok || refused.error).toMatchObject({ code: 'ERR_QUEUE_FULL', limit: 'maxQueued', max: 6 });
    gate.open(0);
    expect(await Promise.all(accepted)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(pool.stats().lanes).toBe(0);
  });
});
