import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, expectTypeOf, it } from 'vitest';
import { LanePool, type Handler, type RunOptions } from '../src/main/index.ts';
import { Gate, outcome, settlesWithin, until } from './helpers.ts';

const EVENTS = fileURLToPath(new URL('./fixtures/events.mjs', import.meta.url));

/** Runs one task, recording its events and how many had arrived when its promise settled. */
async function collect(pool: LanePool, key: string, payload: unknown, options: RunOptions = {}) {
  const events: unknown[] = [];
  const run = pool.run(key, payload, { ...options, onEvent: (event) => events.push(event) });
  const settled = await outcome(run.finally(() => events.push('<settled>')));
  return { settled, events };
}

describe('handler events', () => {
  const pool = new LanePool({ handler: EVENTS, shards: 2 });
  afterAll(() => pool.close({ force: true }));

  it('arrive in emit order, every one before the task settles', async () => {
    const { settled, events } = await collect(pool, 'order', { op: 'count', count: 50, yieldEvery: 7 });
    expect(settled).toEqual({ ok: true, value: 50 });
    expect(events).toEqual([...Array.from({ length: 50 }, (_, seq) => ({ seq })), '<settled>']);
  });

  it('arrive complete and in order when one task emits 10,000', async () => {
    const { settled, events } = await collect(pool, 'many', { op: 'count', count: 10_000, yieldEvery: 1000 });
    expect(settled).toEqual({ ok: true, value: 10_000 });
    expect(events.length).toBe(10_001);
    expect(events.at(-1)).toBe('<settled>');
    for (let seq = 0; seq < 10_000; seq++) if ((events[seq] as { seq: number }).seq !== seq) throw new Error(`event ${seq} is ${JSON.stringify(events[seq])}`);
  });

  it('keep each key in order when many tasks emit at once', async () => {
    const runs = Array.from({ length: 40 }, (_, i) => collect(pool, `multi-${i % 8}`, { op: 'count', count: 100 }));
    for (const { settled, events } of await Promise.all(runs)) {
      expect(settled.ok).toBe(true);
      expect(events).toEqual([...Array.from({ length: 100 }, (_, seq) => ({ seq })), '<settled>']);
    }
  });

  it('are copied at emit, so a reused object arrives as it was each time', async () => {
    const { events } = await collect(pool, 'reuse', { op: 'reuse' });
    expect(events).toEqual([{ i: 0 }, { i: 1 }, { i: 2 }, '<settled>']);
  });

  it('are counted in stats(), delivered or not listened to', async () => {
    const before = pool.stats();
    await collect(pool, 'stats', { op: 'count', count: 5 });
    await pool.run('stats', { op: 'count', count: 3 }); // no onEvent: emitted, not delivered
    const after = pool.stats();
    expect(after.events - before.events).toBe(8);
    expect(after.eventsDelivered - before.eventsDelivered).toBe(5);
    expect(after.eventsDropped - before.eventsDropped).toBe(0);
    expect(after.shards.reduce((sum, s) => sum + s.events, 0)).toBe(after.events);
  });

  it('go to their own task when a control task runs beside a hung one', async () => {
    const gate = new Gate();
    const head = collect(pool, 'ctl', { op: 'gated', gate: gate.buffer, slot: 0, startedSlot: 1, before: ['head-1'], after: ['head-2'] });
    await gate.reached(1);
    const control = await collect(pool, 'ctl', { op: 'count', count: 3 }, { priority: 'control' });
    expect(control.events).toEqual([{ seq: 0 }, { seq: 1 }, { seq: 2 }, '<settled>']);
    gate.open(0);
    expect((await head).events).toEqual(['head-1', 'head-2', '<settled>']);
  });

  it('emitted after a deadline are dropped in the worker and counted', async () => {
    const gate = new Gate();
    const before = pool.stats().eventsDropped;
    const { settled, events } = await collect(pool, 'late-timeout', { op: 'after-abort', gate: gate.buffer, startedSlot: 0, doneSlot: 1, before: ['in time'], after: ['late-1', 'late-2'] }, { timeoutMs: 50 });
    expect(settled.ok ? undefined : settled.error.code).toBe('ERR_LANE_TIMEOUT');
    await gate.reached(1);
    await until(() => pool.stats().eventsDropped - before === 2, 'the two late events to be counted');
    expect(events).toEqual(['in time', '<settled>']);
  });

  it('emitted after a cancel are dropped in the worker and counted', async () => {
    const gate = new Gate();
    const before = pool.stats().eventsDropped;
    const events: unknown[] = [];
    const run = outcome(pool.run('late-cancel', { op: 'after-abort', gate: gate.buffer, startedSlot: 0, doneSlot: 1, before: ['first'], after: ['late'] }, { onEvent: (e) => events.push(e) }));
    await until(() => events.length === 1, 'the first event');
    expect(pool.cancel('late-cancel')).toBe(1);
    const settled = await run;
    expect(settled.ok ? undefined : settled.error.code).toBe('ERR_LANE_CANCELLED');
    // The handler emits its late event once its signal fires, in the worker, after the cancel.
    await gate.reached(1);
    await until(() => pool.stats().eventsDropped - before === 1, 'the late event to be counted');
    expect(events).toEqual(['first']);
  });

  it('reaching the main thread after their task was cancelled there are dropped and counted', async () => {
    const single = new LanePool({ handler: EVENTS, shards: 1 });
    try {
      const gate = new Gate();
      const events: unknown[] = [];
      // The handler emits, then blocks its thread: the event waits in the worker while the task is cancelled here.
      const run = outcome(single.run('blocked', { op: 'blocked-emit', gate: gate.buffer, slot: 0, startedSlot: 1 }, { onEvent: (e) => events.push(e) }));
      await gate.reached(1);
      single.cancel('blocked');
      expect((await run).ok).toBe(false);
      gate.open(0);
      await until(() => single.stats().eventsDropped === 1, 'the late event to be counted');
      expect(single.stats()).toMatchObject({ events: 1, eventsDelivered: 0, eventsDropped: 1 });
      expect(events).toEqual([]);
    } finally {
      await single.close({ force: true });
    }
  });

  it('reach an onEvent that throws, which is reported as a warning and breaks nothing', async () => {
    const warnings: string[] = [];
    const onWarning = (warning: Error): void => {
      if (warning.message.includes('onEvent')) warnings.push(warning.message);
    };
    process.on('warning', onWarning);
    try {
      let calls = 0;
      const value = await settlesWithin(pool.run('throws', { op: 'count', count: 3 }, {
        onEvent: () => {
          calls++;
          throw new Error('listener bug');
        },
      }), 'the task with a throwing onEvent');
      expect(value).toBe(3);
      expect(calls).toBe(3);
      await until(() => warnings.length === 3, 'three warnings');
      expect(warnings[0]).toMatch(/an onEvent callback threw: listener bug/);
      // The lane and the shard go on.
      expect((await collect(pool, 'throws', { op: 'count', count: 1 })).events).toEqual([{ seq: 0 }, '<settled>']);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('after an onEvent that cancels its own task are dropped, even from the same batch', async () => {
    const before = pool.stats().eventsDropped;
    const events: unknown[] = [];
    // Five events emitted in one turn arrive together; the first one's callback cancels the task.
    const run = outcome(pool.run('self-cancel', { op: 'count', count: 5 }, {
      onEvent: (event) => {
        events.push(event);
        pool.cancel('self-cancel');
      },
    }));
    const settled = await run;
    expect(settled.ok ? undefined : settled.error.code).toBe('ERR_LANE_CANCELLED');
    expect(events).toEqual([{ seq: 0 }]);
    expect(pool.stats().eventsDropped - before).toBe(4);
  });

  it('that cannot be cloned make emit throw DataCloneError, and the task goes on', async () => {
    const { settled, events } = await collect(pool, 'refused', { op: 'refused' });
    const refused = { name: 'DataCloneError', code: 'ERR_DATA_CLONE', what: 'event', isLanePool: true };
    expect(settled).toEqual({ ok: true, value: [refused, refused, refused, refused, null] });
    expect(events).toEqual(['still works', '<settled>']);
    expect((await collect(pool, 'refused', { op: 'count', count: 1 })).settled).toEqual({ ok: true, value: 1 });
  });

  it('over maxQueuedBytesPerKey make emit throw EventTooLargeError', async () => {
    const small = new LanePool({ handler: EVENTS, shards: 1, maxQueuedBytesPerKey: 1000 });
    try {
      const { settled, events } = await collect(small, 'big', { op: 'refused', big: 5000 });
      expect(settled.ok && (settled.value as unknown[])[4]).toEqual({ name: 'EventTooLargeError', code: 'ERR_EVENT_TOO_LARGE', max: 1000, isLanePool: true });
      expect(events).toEqual(['still works', '<settled>']);
    } finally {
      await small.close();
    }
  });

  it('already delivered stay delivered when the worker dies; the task fails with ShardRestartedError', async () => {
    const gate = new Gate();
    const events: unknown[] = [];
    const run = outcome(pool.run('dies', { op: 'exit-after', gate: gate.buffer, slot: 0, startedSlot: 1 }, { onEvent: (e) => events.push(e) }));
    await until(() => events.length === 1, 'the event before the exit');
    gate.open(0);
    const settled = await run;
    expect(settled.ok ? undefined : settled.error.code).toBe('ERR_SHARD_RESTARTED');
    expect(events).toEqual(['before death']);
  });

  it('refuse an onEvent that is not a function', async () => {
    await expect(pool.run('k', { op: 'count', count: 0 }, { onEvent: 'nope' as never })).rejects.toThrow(/options\.onEvent must be a function, got "nope"/);
  });

  it('are typed by the handler', () => {
    const handler: Handler<{ n: number }, number, { done: number }> = async ({ n }, { emit }) => {
      emit({ done: n });
      // @ts-expect-error an event of another type does not compile
      emit('text');
      return n;
    };
    expectTypeOf<Parameters<NonNullable<Parameters<LanePool<typeof handler>['run']>[2]>['onEvent'] & {}>[0]>().toEqualTypeOf<{ done: number }>();
    expectTypeOf<Parameters<NonNullable<Parameters<LanePool<{ n: number }, number, string>['run']>[2]>['onEvent'] & {}>[0]>().toEqualTypeOf<string>();
    expectTypeOf<Parameters<NonNullable<Parameters<LanePool['run']>[2]>['onEvent'] & {}>[0]>().toEqualTypeOf<unknown>();
  });
});
