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
