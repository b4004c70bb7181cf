import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { HandlerLoadError, LanePool } from '../src/main/index.ts';
import { Gate, keysOnSameShard } from './helpers.ts';

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

describe('pool.inspect() worker reports', () => {
  it('report each worker\'s own heap and the handler module\'s finite gauges', async () => {
    const pool = new LanePool({ handler: fixture('with-stats.mjs'), shards: 2 });
    try {
      const [key] = keysOnSameShard(pool, 1);
      await pool.run(key!, {});
      await pool.run(key!, {});
      const reports = await pool.inspect();
      const shard = pool.shardOf(key!);
      expect(reports[shard]).toMatchObject({ lanes: 0, handler: { runs: 2, half: 0.5 } });
      expect(reports[1 - shard]!.handler).toEqual({ runs: 0, half: 0.5 });
      for (const report of reports) {
        expect(report!.heap.usedBytes).toBeGreaterThan(0);
        expect(report!.heap.totalBytes).toBeGreaterThanOrEqual(report!.heap.usedBytes);
        expect(report!.heap.limitBytes).toBeGreaterThan(report!.heap.totalBytes);
      }
    } finally {
      await pool.close();
    }
  });

  it('report no gauges, and keep serving, when the handler\'s stats export throws', async () => {
    const pool = new LanePool({ handler: fixture('with-stats.mjs'), shards: 1, handlerData: { stats: 'throw' } });
    try {
      const [report] = await pool.inspect();
      expect(report).toMatchObject({ lanes: 0, handler: {} });
      expect(await pool.run('k', {})).toBe(1);
    } finally {
      await pool.close();
    }
  });

  it('refuse a handler module whose stats export is not a function', async () => {
    const pool = new LanePool({ handler: fixture('bad-stats.mjs'), shards: 1 });
    try {
      await expect(pool.ready()).rejects.toThrow(HandlerLoadError);
      await expect(pool.ready()).rejects.toThrow(/its stats export is number, not a function/);
    } finally {
      await pool.close({ force: true });
    }
  });

  it('with timeoutMs, report a frozen worker as undefined instead of waiting for it', async () => {
    const pool = new LanePool({ handler: fixture('with-stats.mjs'), shards: 2, stallTimeoutMs: 0 });
    const gate = new Gate(2);
    try {
      const [key] = keysOnSameShard(pool, 1);
      const shard = pool.shardOf(key!);
      const blocked = pool.run(key!, { op: 'block', gate: gate.buffer });
      // Once the block has started, the worker reads no more messages until the gate opens.
      await gate.reached(1);
      await pool.ready();
      // Generous for the live worker on a busy machine; the frozen one cannot answer however long it gets.
      const reports = await pool.inspect({ timeoutMs: 3_000 });
      expect(reports[shard]).toBeUndefined();
      expect(reports[1 - shard]).toMatchObject({ lanes: 0 });
      gate.open();
      expect(await blocked).toBe(1);
      expect((await pool.inspect({ timeoutMs: 20_000 }))[shard]).toMatchObject({ lanes: 0, handler: { runs: 1 } });
    } finally {
      gate.open();
      await pool.close();
    }
  });

  it('refuse a bad timeoutMs, naming it', async () => {
    const pool = new LanePool({ handler: fixture('with-stats.mjs'), shards: 1 });
    try {
      await expect(pool.inspect({ timeoutMs: -1 })).rejects.toThrow(/options.timeoutMs/);
      await expect(pool.inspect({ timeout: 5 } as never)).rejects.toThrow(/timeout/);
    } finally {
      await pool.close();
    }
  });
});
