import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { afterAll, describe, expect, it } from 'vitest';
import { SHARD_RESTART_CHANNEL, type ShardRestartEvent } from '../../src/main/index.ts';
import { controlPool, outcome, until } from '../helpers.ts';

describe('a worker replacement', () => {
  const pool = controlPool({ shards: 1 });
  const bystander = controlPool({ shards: 1 });
  const events: ShardRestartEvent[] = [];
  const onRestart = (message: unknown): void => void events.push(message as ShardRestartEvent);
  subscribe(SHARD_RESTART_CHANNEL, onRestart);
  afterAll(async () => {
    unsubscribe(SHARD_RESTART_CHANNEL, onRestart);
    await Promise.all([pool.close({ force: true }), bystander.close({ force: true })]);
  });

  it(`is published on ${SHARD_RESTART_CHANNEL} with its pool, shard, reason and replay count`, async () => {
    await Promise.all([pool.ready(), bystander.ready()]);
    // One batch: the first task kills the worker before the second can start, so the second is replayed.
    const dies = outcome(pool.run('k', { op: 'exit', code: 3 }));
    const replayed = pool.run('k', { op: 'echo', value: 'replayed' });
    expect((await dies).ok).toBe(false);
    expect(await replayed).toMatchObject({ value: 'replayed' });
    await until(() => events.length > 0);
    expect(events).toEqual([{ pool, shard: 0, reason: 'crash', detail: expect.stringContaining('3'), replayed: 1 }]);
    expect(events[0]!.pool).not.toBe(bystander);
  });
});
