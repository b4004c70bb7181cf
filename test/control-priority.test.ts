import { afterAll, describe, expect, it } from 'vitest';
import { Gate, controlPool } from './helpers.ts';

describe('a control task', () => {
  const pool = controlPool({ shards: 2 });
  afterAll(() => pool.close({ force: true }));

  it('runs beside a hung head and ahead of the lane queue', async () => {
    const gate = new Gate();
    const head = pool.run('ctl', { op: 'gate', gate: gate.buffer, slot: 0, startedGate: gate.buffer, startedSlot: 1 });
    await gate.reached(1);
    const queued = pool.run('ctl', { op: 'echo', value: 'queued', startedGate: gate.buffer, startedSlot: 2 });
    const interrupt = await pool.run('ctl', { op: 'echo', value: 'interrupt' }, { priority: 'control' });
    expect(interrupt).toMatchObject({ value: 'interrupt' });
    expect(gate.value(2)).toBe(0); // the queued task is still waiting for the head
    gate.open(0);
    expect(await head).toBe('released');
    expect(await queued).toMatchObject({ value: 'queued' });
  });

  it('is admitted even when the key is at maxQueuedPerKey', async () => {
    const tight = controlPool({ shards: 1, maxQueuedPerKey: 1 });
    try {
      const gate = new Gate();
      const head = tight.run('full', { op: 'gate', gate: gate.buffer, slot: 0 });
      await expect(tight.run('full', { op: 'echo' })).rejects.toMatchObject({ code: 'ERR_QUEUE_FULL' });
      expect(await tight.run('full', { op: 'echo', value: 'stop' }, { priority: 'control' })).toMatchObject({ value: 'stop' });
      gate.open(0);
      await head;
    } finally {
      await tight.close({ force: true });
    }
  });
});
