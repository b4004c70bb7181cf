import { subscribe, tracingChannel, unsubscribe } from 'node:diagnostics_channel';
import { afterAll, describe, expect, it } from 'vitest';
import {
  POOL_DRAIN_CHANNEL, SHARD_BACKOFF_CHANNEL, SHARD_REPLAY_CHANNEL, SHARD_STALL_CHANNEL, TASK_CHANNEL,
  type PoolDrainEvent, type ShardBackoffEvent, type ShardReplayEvent, type ShardStallEvent, type TaskContext,
} from '../src/main/index.ts';
import { Gate, controlPool, outcome, until } from './helpers.ts';

type Seen = [phase: string, context: TaskContext & { outcome?: string }];

/** Subscribes to the task TracingChannel for the duration of `body`, recording this pool's events. */
async function traced(pool: object, body: () => Promise<void>): Promise<Seen[]> {
  const seen: Seen[] = [];
  const record = (phase: string) => (message: unknown) => {
    const context = message as TaskContext;
    if (context.pool === pool) seen.push([phase, { ...context }]);
  };
  const handlers = { start: record('start'), end: record('end'), asyncStart: record('asyncStart'), asyncEnd: record('asyncEnd'), error: record('error') };
  const channel = tracingChannel(TASK_CHANNEL);
  channel.subscribe(handlers);
  try {
    await body();
  } finally {
    channel.unsubscribe(handlers);
  }
  return seen;
}

describe('diagnostics channels', () => {
  const pool = controlPool({ shards: 2 });
  afterAll(() => pool.close({ force: true }));

  it('traces a task: start and end around run(), asyncStart and asyncEnd at settlement, with key, shard, id, attempt, priority and outcome', async () => {
    const seen = await traced(pool, async () => {
      await pool.run('t1', { op: 'echo', value: 1 });
    });
    expect(seen.map(([phase]) => phase)).toEqual(['start', 'end', 'asyncStart', 'asyncEnd']);
    const [, start] = seen[0]!;
    expect(start).toMatchObject({ key: 't1', shard: pool.shardOf('t1'), attempt: 1, priority: 'normal' });
    expect(start.outcome).toBeUndefined();
    expect(typeof start.id).toBe('number');
    expect(seen[2]![1]).toMatchObject({ id: start.id, outcome: 'completed', result: { value: 1 } });
  });

  it('publishes error before asyncStart for a rejection, naming the outcome', async () => {
    const seen = await traced(pool, async () => {
      await outcome(pool.run('t2', { op: 'throw', message: 'boom' }));
      await outcome(pool.run('t3', { op: 'hang' }, { timeoutMs: 20 }));
      const cancelled = outcome(pool.run('t4', { op: 'hang' }, { priority: 'control' }));
      await until(() => pool.busyKeys().includes('t4'));
      pool.cancel('t4');
      await cancelled;
    });
    const settled = seen.filter(([phase]) => phase === 'error').map(([, c]) => [c.key, c.outcome, c.priority]);
    expect(settled).toEqual([['t2', 'failed', 'normal'], ['t3', 'timedOut', 'normal'], ['t4', 'cancelled', 'control']]);
    const t2 = seen.filter(([, c]) => c.key === 't2').map(([phase]) => phase);
    expect(t2).toEqual(['start', 'end', 'error', 'asyncStart', 'asyncEnd']);
  });

  it('raises the traced attempt when a retry: idempotent task runs again on a replacement worker', async () => {
    const counter = new SharedArrayBuffer(4);
    const seen = await traced(pool, async () => {
      expect(await pool.run('t6', { op: 'crash-once', counter, reportAttempt: true }, { retry: 'idempotent' })).toEqual({ survived: true, attempt: 2 });
    });
    expect(seen.map(([phase, c]) => `${phase}:${c.attempt}`)).toEqual(['start:1', 'end:1', 'asyncStart:2', 'asyncEnd:2']);
  });

  it('publishes nothing for a task once the subscriber has left', async () => {
    const seen = await traced(pool, async () => {});
    await pool.run('t5', { op: 'echo' });
    expect(seen).toEqual([]);
    expect(tracingChannel(TASK_CHANNEL).hasSubscribers).toBe(false);
  });

  it('publishes stall, backoff and replay when the watchdog replaces a frozen worker', async () => {
    const stalled = controlPool({ shards: 1, stallTimeoutMs: 200 });
    const events: { stall: ShardStallEvent[]; backoff: ShardBackoffEvent[]; replay: ShardReplayEvent[] } = { stall: [], backoff: [], replay: [] };
    const onStall = (m: unknown) => (m as ShardStallEvent).pool === stalled && events.stall.push(m as ShardStallEvent);
    const onBackoff = (m: unknown) => (m as ShardBackoffEvent).pool === stalled && events.backoff.push(m as ShardBackoffEvent);
    const onReplay = (m: unknown) => (m as ShardReplayEvent).pool === stalled && events.replay.push(m as ShardReplayEvent);
    subscribe(SHARD_STALL_CHANNEL, onStall);
    subscribe(SHARD_BACKOFF_CHANNEL, onBackoff);
    subscribe(SHARD_REPLAY_CHANNEL, onReplay);
    try {
      await stalled.ready();
      const gate = new Gate();
      const spinning = outcome(stalled.run('s', { op: 'spin', startedGate: gate.buffer }));
      await gate.reached(0);
      const queued = stalled.run('s', { op: 'echo', value: 'after' });
      expect(await spinning).toMatchObject({ ok: false, error: { code: 'ERR_SHARD_RESTARTED', reason: 'stall' } });
      expect(await queued).toMatchObject({ value: 'after' });
      expect(events.stall).toMatchObject([{ shard: 0 }]);
      expect(events.stall[0]!.detail).toMatch(/heartbeat/);
      expect(events.backoff).toMatchObject([{ shard: 0, delayMs: 0, streak: 1 }]);
      expect(events.replay).toMatchObject([{ shard: 0, reason: 'stall', tasks: [{ key: 's', attempt: 1 }] }]);
    } finally {
      unsubscribe(SHARD_STALL_CHANNEL, onStall);
      unsubscribe(SHARD_BACKOFF_CHANNEL, onBackoff);
      unsubscribe(SHARD_REPLAY_CHANNEL, onReplay);
      await stalled.close({ force: true });
    }
  });

  it('publishes each drain as drained, timed out or aborted, whole-pool or per key', async () => {
    const drains: PoolDrainEvent[] = [];
    const onDrain = (m: unknown) => (m as PoolDrainEvent).pool === pool && drains.push(m as PoolDrainEvent);
    subscribe(POOL_DRAIN_CHANNEL, onDrain);
    try {
      const hung = outcome(pool.run('dr', { op: 'hang' }));
      await outcome(pool.drain({ timeoutMs: 20 }));
      await outcome(pool.drain({ key: 'dr', signal: AbortSignal.timeout(20) }));
      const draining = pool.drain({ key: 'dr' });
      pool.cancel('dr');
      await draining;
      await hung;
    } finally {
      unsubscribe(POOL_DRAIN_CHANNEL, onDrain);
    }
    expect(drains.map((d) => [d.key, d.outcome])).toEqual([[undefined, 'timedOut'], ['dr', 'aborted'], ['dr', 'drained']]);
  });
});
