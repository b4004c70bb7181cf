import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { HandlerLoadError, LanePool } from '../src/main/index.ts';

const fixture = (name: string): string => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

describe('a handler that cannot be loaded', () => {
  for (const [name, detail] of [['not-a-function.mjs', /default export is number/], ['broken.mjs', /./]] as const) {
    it(`fails ready() and every run() with HandlerLoadError (${name})`, async () => {
      const pool = new LanePool({ handler: fixture(name), shards: 2 });
      const early = pool.run('k', 1);
      await expect(pool.ready()).rejects.toBeInstanceOf(HandlerLoadError);
      await expect(early).rejects.toMatchObject({ code: 'ERR_HANDLER_LOAD' });
      await expect(pool.run('k', 1)).rejects.toThrow(detail);
      expect(pool.stats().lanes).toBe(0);
      await pool.close();
    });
  }
});

describe('a handler that never finishes loading', () => {
  const cases = [
    ['an init() that never settles', 'hangs-in-init.mjs'],
    ['a top-level await that never settles', 'hangs-at-top-level.mjs'],
    ['a top-level Atomics.wait that blocks the worker', 'blocks-at-top-level.mjs'],
  ] as const;
  for (const [what, name] of cases) {
    it(`fails ready() and every run() with HandlerLoadError after loadTimeoutMs (${what})`, async () => {
      // The watchdog is off, so the load deadline alone must catch even the blocked thread.
      const pool = new LanePool({ handler: fixture(name), shards: 2, loadTimeoutMs: 300, stallTimeoutMs: 0 });
      const early = pool.run('k', 1);
      await expect(pool.ready()).rejects.toBeInstanceOf(HandlerLoadError);
      await expect(early).rejects.toThrow(/did not load within 300 ms \(loadTimeoutMs\)/);
      await expect(pool.run('k', 1)).rejects.toMatchObject({ code: 'ERR_HANDLER_LOAD' });
      expect(pool.stats().shards.map((shard) => shard.state)).toEqual(['failed', 'failed']);
      await pool.close();
    });
  }
});
