import { describe, expect, expectTypeOf, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { LanePool, type Handler } from '../src/main/index.ts';
import type typedHandler from './fixtures/typed-handler.ts';

const HANDLER = fileURLToPath(new URL('./fixtures/typed-handler.ts', import.meta.url));

// These checks run in `tsc --noEmit` (npm run typecheck): each @ts-expect-error fails the type check
// if the line under it compiles, so a pool that stopped inferring would break the build.
describe('types from the handler', () => {
  it('infers run() payload and result from typeof handler, and from the handler module', async () => {
    const pool = new LanePool<typeof typedHandler>({ handler: HANDLER, shards: 1 });
    try {
      const reply = await pool.run('k', { n: 21 });
      expectTypeOf(reply).toEqualTypeOf<{ doubled: number }>();
      expect(reply).toEqual({ doubled: 42 });
      expectTypeOf(pool.run).parameter(1).toEqualTypeOf<{ n: number }>();
      // @ts-expect-error a wrong payload is a compile error
      void pool.run('k', { n: 'twenty-one' }).catch(() => {});
      // @ts-expect-error a missing field too
      void pool.run('k', {}).catch(() => {});
    } finally {
      await pool.close();
    }
    type Module = typeof import('./fixtures/typed-handler.ts');
    expectTypeOf<Parameters<LanePool<Module>['run']>[1]>().toEqualTypeOf<{ n: number }>();
    expectTypeOf<ReturnType<LanePool<Module>['run']>>().toEqualTypeOf<Promise<{ doubled: number }>>();
  });

  it('keeps the explicit <Payload, Result> form and the untyped default', () => {
    expectTypeOf<Parameters<LanePool<{ a: string }, number>['run']>[1]>().toEqualTypeOf<{ a: string }>();
    expectTypeOf<ReturnType<LanePool<{ a: string }, number>['run']>>().toEqualTypeOf<Promise<number>>();
    expectTypeOf<ReturnType<LanePool['run']>>().toEqualTypeOf<Promise<unknown>>();
    const sync: Handler<string, number> = (s) => s.length;
    expectTypeOf<ReturnType<LanePool<typeof sync>['run']>>().toEqualTypeOf<Promise<number>>();
  });
});
