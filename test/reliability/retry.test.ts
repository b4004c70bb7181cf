import { afterAll, describe, expect, it } from 'vitest';
import { Gate, controlPool } from '../helpers.ts';

describe("retry: 'idempotent'", () => {
  const pool = controlPool({ shards: 1 });
  afterAll(() => pool.close({ force: true }));

  it('runs a started task once more after its worker dies', async () => {
    const counter = new Gate();
    expect(await pool.run('idem', { op: 'crash-once', counter: counter.buffer }, { retry: 'idempotent' })).toBe('survived');
    expect(counter.value(0)).toBe(2);
  });

  it('tells the second run it is attempt 2, counting on from the attempt the caller passed', async () => {
    expect(await pool.run('idem-attempt', { op: 'crash-once', counter: new Gate().buffer, reportAttempt: true }, { retry: 'idempotent' }))
      .toEqual({ survived: true, attempt: 2 });
    expect(await pool.run('idem-attempt', { op: 'crash-once', counter: new Gate().buffer, reportAttempt: true }, { retry: 'idempotent', attempt: 2 }))
      .toEqual({ survived: true, attempt: 3 });
  });

  it('starts at attempt 1 unless the caller says otherwise, and validates the option', async () => {
    expect(await pool.run('attempts', { op: 'echo', value: 1 })).toMatchObject({ attempt: 1 });
    expect(await pool.run('attempts', { op: 'echo', value: 1 }, { attempt: 2 })).toMatchObject({ attempt: 2 });
    await expect(pool.run('attempts', {}, { attempt: 0 })).rejects.toThrow(/options\.attempt/);
    await expect(pool.run('attempts', {}, { attempt: 1.5 })).rejects.toThrow(/options\.attempt/);
  });

  it('fails it like any other started task without the option', async () => {
    const counter = new Gate();
    await expect(pool.run('plain', { op: 'crash-once', counter: counter.buffer })).rejects.toMatchObject({ code: 'ERR_SHARD_RESTARTED' });
    expect(counter.value(0)).toBe(1);
  });

  it('runs it only once more: a second death fails it', async () => {
    const counter = new Gate();
    await expect(pool.run('twice', { op: 'exit-counted', counter: counter.buffer }, { retry: 'idempotent' })).rejects.toMatchObject({ code: 'ERR_SHARD_RESTARTED' });
    expect(counter.value(0)).toBe(2);
    expect(await pool.run('twice', { op: 'echo', value: 'fine' })).toMatchObject({ value: 'fine' });
  });

  it('is validated', async () => {
    await expect(pool.run('k', {}, { retry: 'always' as 'none' })).rejects.toThrow(/options\.retry must be 'none' or 'idempotent'/);
  });
});
