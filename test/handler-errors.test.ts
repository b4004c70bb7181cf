import { afterAll, describe, expect, it } from 'vitest';
import { DataCloneError } from '../src/main/index.ts';
import { controlPool, outcome } from './helpers.ts';

describe('a handler error', () => {
  const pool = controlPool({ shards: 1 });
  afterAll(() => pool.close({ force: true }));

  it('reaches the caller with name, message, stack, code and extra fields intact', async () => {
    const result = await outcome(pool.run('e', { op: 'throw', name: 'ProviderError', message: 'session refused', code: 'E_REFUSED', extra: { status: 503, retryable: true } }));
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const error = result.error as Error & { code?: string; status?: number; retryable?: boolean };
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('ProviderError');
    expect(error.message).toBe('session refused');
    expect(error.code).toBe('E_REFUSED');
    expect(error.status).toBe(503);
    expect(error.retryable).toBe(true);
    expect(error.stack).toContain('control.mjs');
  });

  it('keeps the standard class of a TypeError or RangeError', async () => {
    const result = await outcome(pool.run('e', { op: 'throw', ctor: 'RangeError', message: 'too big' }));
    expect(result.ok || result.error).toBeInstanceOf(RangeError);
  });

  it('wraps a thrown non-Error value in an Error', async () => {
    const result = await outcome(pool.run('e', { op: 'throw-value', value: 'just a string' }));
    expect(result.ok || result.error.message).toContain('just a string');
  });

  it('types an uncloneable result or payload as DataCloneError, and the lane keeps going', async () => {
    const result = await outcome(pool.run('e', { op: 'uncloneable' }));
    expect(result.ok || result.error).toBeInstanceOf(DataCloneError);
    expect(result.ok || result.error).toMatchObject({ code: 'ERR_DATA_CLONE', what: 'result', key: 'e' });
    const sent = await outcome(pool.run('e', { op: 'echo', value: () => 1 }));
    expect(sent.ok || sent.error).toMatchObject({ code: 'ERR_DATA_CLONE', what: 'payload', key: 'e' });
    expect(await pool.run('e', { op: 'echo', value: 'fine' })).toMatchObject({ value: 'fine' });
    expect(pool.stats().lanes).toBe(0);
  });

  it('does not let one uncloneable payload take the rest of its batch down', async () => {
    // All of these are sent in one batch; only the bad one may fail.
    const runs = [1, 2, 3].map((n) => outcome(pool.run(`batch-${n}`, { op: 'echo', value: n })));
    const bad = outcome(pool.run('batch-bad', { op: 'echo', value: new WeakMap() }));
    const more = [4, 5].map((n) => outcome(pool.run(`batch-${n}`, { op: 'echo', value: n })));
    const results = await Promise.all([...runs, ...more]);
    expect(results.map((r) => r.ok && (r.value as { value: number }).value)).toEqual([1, 2, 3, 4, 5]);
    expect((await bad).ok).toBe(false);
  });
});
