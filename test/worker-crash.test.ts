import { afterAll, describe, expect, it } from 'vitest';
import { ShardRestartedError } from '../src/main/index.ts';
import { Gate, controlPool, keysOnSameShard, outcome, until } from './helpers.ts';

describe('a worker that dies', () => {
  const pool = controlPool({ shards: 2 });
  afterAll(() => pool.close({ force: true }));

  it('fails what its shard held with ShardRestartedError, and the shard serves again on a fresh worker', async () => {
    await pool.ready();
    const [a, b] = keysOnSameShard(pool, 2, 'crash');
    const shard = pool.shardOf(a!);
    const gate = new Gate();
    const bRunning = outcome(pool.run(b!, { op: 'gate', gate: gate.buffer, slot: 0, startedGate: gate.buffer, startedSlot: 1 }));
    await gate.reached(1);
    const crash = await outcome(pool.run(a!, { op: 'exit', code: 1 }));
    expect(crash.ok || crash.error).toBeInstanceOf(ShardRestartedError);
    expect(crash.ok || crash.error).toMatchObject({ code: 'ERR_SHARD_RESTARTED', reason: 'crash', shard, key: a });
    const held = await bRunning;
    expect(held.ok || held.error).toMatchObject({ code: 'ERR_SHARD_RESTARTED', key: b });

    expect(await pool.run(b!, { op: 'echo', value: 'back' })).toMatchObject({ value: 'back', shard });
    const stats = pool.stats();
    expect(stats.shards[shard]).toMatchObject({ restarts: 1, lanes: 0, queued: 0, running: 0 });
    await until(() => pool.stats().shards[shard]!.state === 'ready');
  });
});
