import { describe, expect, it } from 'vitest';
import { LanePool } from '../src/main/index.ts';
import { CONTROL, outcome } from './helpers.ts';

describe('disposal', () => {
  it('await using closes the pool at the end of the scope, after its tasks settle', async () => {
    let escaped: LanePool | undefined;
    let value: unknown;
    {
      await using pool = new LanePool({ handler: CONTROL, shards: 1 });
      escaped = pool;
      value = await pool.run('k', { op: 'echo', value: 42 });
    }
    expect(value).toMatchObject({ value: 42 });
    expect(escaped.stats().shards.map((s) => s.state)).toEqual(['closed']);
    expect(await outcome(escaped.run('k', { op: 'echo' }))).toMatchObject({ ok: false, error: { code: 'ERR_POOL_CLOSED' } });
  });

  it('using (synchronous) starts closing: new tasks are refused at once, accepted ones still finish', async () => {
    let escaped: LanePool | undefined;
    let accepted: Promise<unknown> | undefined;
    {
      using pool = new LanePool({ handler: CONTROL, shards: 1 });
      escaped = pool;
      accepted = pool.run('k', { op: 'echo', value: 'kept' });
    }
    expect(await outcome(escaped.run('k', { op: 'echo' }))).toMatchObject({ ok: false, error: { code: 'ERR_POOL_CLOSED' } });
    expect(await accepted).toMatchObject({ value: 'kept' });
    await escaped.close();
    expect(escaped.stats().shards[0]!.state).toBe('closed');
  });
});
