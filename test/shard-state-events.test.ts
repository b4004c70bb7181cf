import { describe, expect, it } from 'vitest';
import type { ShardStateEvent } from '../src/main/index.ts';
import { controlPool, outcome } from './helpers.ts';

describe("the 'shardState' event", () => {
  it('reports every transition: starting to ready, a crash through recovering and backoff, and the close', async () => {
    const pool = controlPool({ shards: 1 });
    const seen: ShardStateEvent[] = [];
    pool.on('shardState', (event) => seen.push(event));
    await pool.ready();
    expect(await outcome(pool.run('k', { op: 'exit' }))).toMatchObject({ ok: false, error: { code: 'ERR_SHARD_RESTARTED' } });
    await pool.run('k', { op: 'echo' });
    await pool.close();
    expect(seen.map((e) => `${e.from}>${e.to}`)).toEqual([
      'starting>ready', 'ready>recovering', 'recovering>backoff', 'backoff>starting', 'starting>ready', 'ready>closed',
    ]);
    expect(seen.every((e) => e.shard === 0)).toBe(true);
  });

  it('survives a listener that throws: the warning is emitted, the shard goes on', async () => {
    const pool = controlPool({ shards: 1 });
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarning);
    try {
      pool.on('shardState', () => {
        throw new Error('listener bug');
      });
      await pool.ready();
      expect(await pool.run('k', { op: 'echo', value: 1 })).toMatchObject({ value: 1 });
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings.some((w) => w.includes('listener bug'))).toBe(true);
    } finally {
      process.off('warning', onWarning);
      await pool.close();
    }
  });
});
