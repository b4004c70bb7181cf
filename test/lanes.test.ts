import { describe, expect, it } from 'vitest';
import type { Handler } from '../src/shared/handler.ts';
import { Lanes, type LaneTask, type Outcome } from '../src/worker/lanes.ts';

/** A handler whose tasks finish only when the test says so. */
function manual() {
  const pending = new Map<number, { resolve: (v: unknown) => void; signal: AbortSignal }>();
  const handler: Handler<{ id: number }> = (payload, ctx) =>
    new Promise((resolve) => pending.set(payload.id, { resolve, signal: ctx.signal }));
  return { handler, pending };
}

function harness(handler: Handler<never>) {
  const settled: [number, Outcome][] = [];
  const started: number[] = [];
  let abandoned = 0;
  const lanes = new Lanes(handler as Handler, {
    started: (t) => started.push(t.id),
    settled: (t, o) => settled.push([t.id, o]),
    abandoned: (n) => (abandoned = n),
  });
  const task = (id: number, key: string, extra: Partial<LaneTask> = {}): LaneTask => ({ id, key, payload: { id }, timeoutMs: 0, control: false, ...extra });
  return { lanes, settled, started, task, abandoned: () => abandoned };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('Lanes (in-process)', () => {
  it('starts the next task of a key only after the previous one settles', async () => {
    const { handler, pending } = manual();
    const { lanes, started, task } = harness(handler);
    lanes.push(task(1, 'a'));
    lanes.push(task(2, 'a'));
    lanes.push(task(3, 'b'));
    expect(started).toEqual([1, 3]);
    pending.get(1)!.resolve('one');
    await tick();
    expect(started).toEqual([1, 3, 2]);
    expect(lanes.stats()).toMatchObject({ lanes: 2, running: 2, queued: 0 });
  });

  it('never lets a task pushed from inside settled overtake older queued tasks', async () => {
    const order: number[] = [];
    let next = 100;
    const h = harness((async (p: { id: number }) => p.id) as Handler<never>);
    const lanes = new Lanes((async (p: { id: number }) => { order.push(p.id); return p.id; }) as Handler, {
      settled: (t) => { if (t.id === 1) lanes.push(h.task(next++, 'a')); },
    });
    lanes.push(h.task(1, 'a'));
    lanes.push(h.task(2, 'a'));
    lanes.push(h.task(3, 'a'));
    for (let i = 0; i < 10; i++) await tick();
    expect(order).toEqual([1, 2, 3, 100]);
    expect(lanes.stats().lanes).toBe(0);
  });

  it('runs a control task beside the head and before the queue', async () => {
    const { handler, pending } = manual();
    const { lanes, started, task } = harness(handler);
    lanes.push(task(1, 'a'));
    lanes.push(task(2, 'a'));
    lanes.push(task(3, 'a', { control: true }));
    expect(started).toEqual([1, 3]);
    pending.get(3)!.resolve('ctl');
    await tick();
    expect(started).toEqual([1, 3]);
    pending.get(1)!.resolve('head');
    await tick();
    expect(started).toEqual([1, 3, 2]);
  });

  it('cancelKey releases running and queued tasks and counts the abandoned promise until it settles', async () => {
    const { handler, pending } = manual();
    const { lanes, settled, task, abandoned } = harness(handler);
    lanes.push(task(1, 'a'));
    lanes.push(task(2, 'a'));
    expect(lanes.cancelKey('a', 'stop')).toBe(2);
    expect(settled.map(([id, o]) => [id, o.kind])).toEqual([[1, 'cancelled'], [2, 'cancelled']]);
    expect(pending.get(1)!.signal.aborted).toBe(true);
    expect(abandoned()).toBe(1);
    expect(lanes.stats()).toEqual({ lanes: 0, queued: 0, running: 0, abandoned: 1 });
    lanes.push(task(3, 'a'));
    expect(lanes.stats().running).toBe(1);
    pending.get(1)!.resolve('late');
    await tick();
    expect(abandoned()).toBe(0);
    expect(settled.filter(([id]) => id === 1)).toHaveLength(1); // settled exactly once
  });

  it('abort drops a queued task without running it', async () => {
    const { handler, pending } = manual();
    const { lanes, settled, started, task } = harness(handler);
    lanes.push(task(1, 'a'));
    lanes.push(task(2, 'a'));
    lanes.push(task(3, 'a'));
    expect(lanes.abort(2, 'caller')).toBe(true);
    expect(lanes.abort(99, 'nobody')).toBe(false);
    pending.get(1)!.resolve(1);
    await tick();
    expect(started).toEqual([1, 3]);
    expect(settled.map(([id, o]) => [id, o.kind])).toEqual([[2, 'cancelled'], [1, 'ok']]);
  });

  it('times a task out from its start and moves the lane on', async () => {
    const { handler } = manual();
    const { lanes, settled, started, task } = harness(handler);
    lanes.push(task(1, 'a', { timeoutMs: 20 }));
    lanes.push(task(2, 'a', { timeoutMs: 20 }));
    while (settled.length < 2) await new Promise((r) => setTimeout(r, 10));
    expect(settled.map(([id, o]) => [id, o.kind])).toEqual([[1, 'timeout'], [2, 'timeout']]);
    expect(started).toEqual([1, 2]);
    expect(lanes.stats()).toMatchObject({ lanes: 0, abandoned: 2 });
  });

  it('holds no lane after 100,000 distinct keys', async () => {
    const { lanes, settled, task } = harness((async () => 1) as Handler<never>);
    for (let i = 0; i < 100_000; i++) lanes.push(task(i, `k${i}`));
    expect(lanes.stats().lanes).toBe(100_000);
    while (settled.length < 100_000) await tick();
    expect(lanes.stats()).toEqual({ lanes: 0, queued: 0, running: 0, abandoned: 0 });
  });

  it('forwards emits only while the task runs, so none follows its settlement', async () => {
    const log: string[] = [];
    const emits: ((event: unknown) => void)[] = [];
    const lanes = new Lanes(((payload: { id: number }, ctx) => {
      const { emit } = ctx;
      emits.push(emit);
      emit(`${payload.id}:a`);
      return new Promise(() => {}); // hangs: released by its deadline below
    }) as Handler, {
      settled: (t, o) => log.push(`settled ${t.id} ${o.kind}`),
      event: (t, event) => {
        if (event === 'refuse') throw new TypeError('refused');
        log.push(`event ${String(event)}`);
      },
      eventDropped: (t) => log.push(`dropped ${t.id}`),
    });
    lanes.push({ id: 1, key: 'k', payload: { id: 1 }, timeoutMs: 0, control: false });
    expect(() => emits[0]!('refuse')).toThrow(TypeError); // what the hook throws reaches the handler
    emits[0]!('1:b');
    lanes.abort(1, 'stop');
    emits[0]!('1:late');
    expect(log).toEqual(['event 1:a', 'event 1:b', 'settled 1 cancelled', 'dropped 1']);
  });
});
