import { afterAll, describe, expect, it } from 'vitest';
import { LanePool } from '../src/main/index.ts';
import { TYPED } from './helpers.ts';

describe('a handler written in TypeScript', () => {
  const pool = new LanePool<{ name: string; times: number }, string>({ handler: TYPED, shards: 1 });
  afterAll(() => pool.close());

  it('is loaded from its .ts source and runs in the worker', async () => {
    await pool.ready();
    expect(await pool.run('ts-key', { name: 'lane', times: 2 })).toBe('hello lane, hello lane! (ts-key)');
  });
});
