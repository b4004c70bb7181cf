import { afterAll, describe, expect, it } from 'vitest';
import { DrainTimeoutError } from '../src/main/index.ts';
import { Gate, controlPool, keysOnSameShard, outcome, until } from './helpers.ts';

describe('drain({ key })', () => {
  const pool = controlPool({ shards: 2 });
  afterAll(() => pool.close({ force: true }));

  it('resolves at once for an idle key, even while other keys are busy', async () => {
    const busy = outcome(pool.run('other', { op: 'hang' }));
    let done = false;
    const drained = pool.drain({ key: 'idle' }).then(() => (done = true));
    await Promise.resolve();
    await Promise.resolve();
    expect(done).toBe(true);
    await drained;
    pool.cancel('other');
    await busy;
  });

  it('waits for the key, including tasks added meanwhile, and not for a hung key on the same shard', async () => {
    const [key, hungKey] = keysOnSameShard(pool, 2, 'dk');
    const hung = outcome(pool.run(hungKey!, { op: 'hang' }));
    const gate = new Gate();
    const first = pool.run(key!, { op: 'gate', gate: gate.buffer, slot: 0 });
    let drained = false;
    const draining = pool.drain({ key: key! }).then(() => (drained = true));
    const second = pool.run(key!, { op: 'gate', gate: gate.buffer, slot: 1 });
    gate.open(0);
    await first;
    await pool.inspect();
    expect(drained).toBe(false);
    gate.open(1);
    await second;
    await draining;
    expect(pool.busyKeys()).toEqual([hungKey]);
    pool.cancel(hungKey!);
    await hung;
  });

  it('waits for a control task of the key too', async () => {
    const gate = new Gate();
    const control = pool.run('dc', { op: 'gate', gate: gate.buffer, slot: 0 }, { priority: 'control' });
    let drained = false;
    const draining = pool.drain({ key: 'dc' }).then(() => (drained = true));
    await pool.inspect();
    expect(drained).toBe(false);
    gate.open(0);
    await control;
    await draining;
  });

  it('with timeoutMs, rejects with DrainTimeoutError naming only that key', async () => {
    const hung = outcome(pool.run('dk-hung', { op: 'hang' }));
    const also = outcome(pool.run('dk-other', { op: 'hang' }));
    const result = await outcome(pool.drain({ key: 'dk-hung', timeoutMs: 100 }));
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.error).toBeInstanceOf(DrainTimeoutError);
      expect(result.error).toMatchObject({ keys: ['dk-hung'], timeoutMs: 100 });
    }
    pool.cancel('dk-hung');
    pool.cancel('dk-other');
    await Promise.all([hung, also]);
  });

  it('with signal, rejects with signal.reason; cancel(key) lets a waiting drain resolve', async () => {
    const hung = outcome(pool.run('ds', { op: 'hang' }));
    await until(() => pool.busyKeys().includes('ds'));
    expect(await outcome(pool.drain({ key: 'ds', signal: AbortSignal.abort('stop') }))).toEqual({ ok: false, error: 'stop' });
    const draining = pool.drain({ key: 'ds' });
    pool.cancel('ds');
    await draining;
    await hung;
  });

  it('refuses a bad key the way run() does', async () => {
    const result = await outcome(pool.drain({ key: '' }));
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error).toBeInstanceOf(TypeError);
  });
});
