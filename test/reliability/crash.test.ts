import { describe, expect, it } from 'vitest';
import { Gate, controlPool, keysOnSameShard, outcome } from '../helpers.ts';

// `synchronous`: the worker dies inside the handler call, so nothing sent after it in the same batch
// can have started. An uncaught exception from a later turn gives no such promise.
const cases = [
  { what: 'calls process.exit(1)', op: { op: 'exit', code: 1 }, reason: 'crash', synchronous: true, options: {} },
  { what: 'throws an uncaught exception', op: { op: 'uncaught' }, reason: 'crash', synchronous: false, options: {} },
  { what: 'allocates past resourceLimits', op: { op: 'oom' }, reason: 'oom', synchronous: true, options: { resourceLimits: { maxOldGenerationSizeMb: 48 } } },
] as const;

describe('a worker that dies', () => {
  for (const { what, op, reason, synchronous, options } of cases) {
    it(`when its handler ${what}: started tasks fail with ERR_SHARD_RESTARTED (${reason}), the rest run in order on a new worker`, async () => {
      const pool = controlPool({ shards: 2, ...options });
      try {
        await pool.ready();
        const [a, b, c] = keysOnSameShard(pool, 3, `crash-${reason}`);
        const gate = new Gate();
        const bRunning = outcome(pool.run(b!, { op: 'gate', gate: gate.buffer, slot: 0, startedGate: gate.buffer, startedSlot: 1 }));
        await gate.reached(1);
        const dying = outcome(pool.run(a!, op));
        const cTasks = [0, 1, 2].map((seq) => outcome(pool.run(c!, { op: 'record', seq, yields: 1 }) as Promise<{ seq: number }>));
        const bAfter = outcome(pool.run(b!, { op: 'echo', value: 'b-after' }));

        const died = await dying;
        expect(died.ok || died.error).toMatchObject({ code: 'ERR_SHARD_RESTARTED', reason, key: a });
        const held = await bRunning;
        expect(held.ok || held.error).toMatchObject({ code: 'ERR_SHARD_RESTARTED', reason });
        const cResults = await Promise.all(cTasks);
        if (synchronous) {
          // Never started, so replayed on the new worker, in order.
          expect(cResults.map((r) => r.ok && r.value.seq)).toEqual([0, 1, 2]);
          expect((await bAfter).ok).toBe(true);
        } else {
          for (const r of cResults) if (!r.ok) expect(r.error.code).toBe('ERR_SHARD_RESTARTED');
          const done = cResults.filter((r) => r.ok).map((r) => (r.ok ? r.value.seq : -1));
          expect(done).toEqual([...done].sort());
        }
        // The shard serves every key again.
        for (const key of [a!, b!, c!]) expect(await pool.run(key, { op: 'echo', value: key })).toMatchObject({ value: key });
        const stats = pool.stats().shards[pool.shardOf(a!)]!;
        expect(stats.restartsByReason[reason]).toBe(1);
        expect(stats).toMatchObject({ lanes: 0, queued: 0, running: 0 });
      } finally {
        await pool.close({ force: true });
      }
    });
  }
});
