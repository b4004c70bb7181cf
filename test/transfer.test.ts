import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { LanePool } from '../src/main/index.ts';
import { outcome } from './helpers.ts';

const TRANSFER = fileURLToPath(new URL('./fixtures/transfer.mjs', import.meta.url));

describe('transferList and ctx.transfer', () => {
  const pool = new LanePool({ handler: TRANSFER, shards: 1 });
  afterAll(() => pool.close({ force: true }));

  it('moves a payload buffer listed in transferList instead of copying it', async () => {
    const buffer = new ArrayBuffer(1 << 20);
    const seen = pool.run('k', { op: 'length', buffer }, { transferList: [buffer] });
    // Gone from this thread as soon as the batch is posted: it was moved.
    expect(await seen).toBe(1 << 20);
    expect(buffer.byteLength).toBe(0);
  });

  it('copies a payload buffer without transferList, leaving it usable here', async () => {
    const buffer = new ArrayBuffer(1024);
    expect(await pool.run('k', { op: 'length', buffer })).toBe(1024);
    expect(buffer.byteLength).toBe(1024);
  });

  it('moves a result buffer the handler names with ctx.transfer, and copies one it does not', async () => {
    const moved = (await pool.run('k', { op: 'send-back', bytes: 4096, transfer: true })) as ArrayBuffer;
    const copied = (await pool.run('k', { op: 'send-back', bytes: 2048, transfer: false })) as ArrayBuffer;
    expect(new Uint8Array(moved)[4095]).toBe(7);
    expect(copied.byteLength).toBe(2048);
    // In the worker, the moved buffer is detached and the copied one is intact.
    expect(await pool.run('k', { op: 'sent-lengths' })).toEqual([0, 2048]);
  });

  it('lets a handler destructure transfer from its context', async () => {
    const moved = (await pool.run('k', { op: 'send-back', bytes: 512, transfer: 'destructured' })) as ArrayBuffer;
    expect(moved.byteLength).toBe(512);
    expect(await pool.run('k', { op: 'sent-lengths' })).toEqual([0, 2048, 0]);
  });

  it('keeps neighbours in the same batch when one transfer list is unusable', async () => {
    const view = new Uint8Array(8); // a view, not its buffer: postMessage refuses it
    const good = new ArrayBuffer(16);
    const [bad, fine] = await Promise.all([
      outcome(pool.run('a', { op: 'length', buffer: view.buffer }, { transferList: [view as never] })),
      outcome(pool.run('b', { op: 'length', buffer: good }, { transferList: [good] })),
    ]);
    expect(bad).toMatchObject({ ok: false, error: { code: 'ERR_DATA_CLONE' } });
    expect(fine).toEqual({ ok: true, value: 16 });
  });

  it('does not replay a task whose transferred payload left with a worker that died before starting it', async () => {
    const buffer = new ArrayBuffer(64);
    const dying = outcome(pool.run('crash', { op: 'exit' }));
    const queued = outcome(pool.run('crash', { op: 'length', buffer }, { transferList: [buffer] }));
    const copiedBehind = outcome(pool.run('crash', { op: 'length', buffer: new ArrayBuffer(32) }));
    expect(await dying).toMatchObject({ ok: false, error: { code: 'ERR_SHARD_RESTARTED' } });
    // Sent again, it would run on an empty, detached buffer: it fails instead, and says why.
    const result = await queued;
    expect(result).toMatchObject({ ok: false, error: { code: 'ERR_SHARD_RESTARTED' } });
    if (!result.ok) expect(result.error.message).toContain('transferred');
    expect(await copiedBehind).toEqual({ ok: true, value: 32 });
  });

  it('rejects with DataCloneError when the handler names something that cannot be transferred, and the shard goes on', async () => {
    expect(await outcome(pool.run('k', { op: 'bad-transfer' }))).toMatchObject({ ok: false, error: { code: 'ERR_DATA_CLONE' } });
    expect(await pool.run('k', { op: 'length', buffer: new ArrayBuffer(3) })).toBe(3);
  });

  it('refuses a transferList that is not an array, naming the option', async () => {
    const result = await outcome(pool.run('k', { op: 'length', buffer: new ArrayBuffer(1) }, { transferList: 'no' as never }));
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.message).toMatch(/options\.transferList must be an array/);
  });
});
