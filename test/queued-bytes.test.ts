import { afterAll, describe, expect, it } from 'vitest';
import { LanePool, QueueFullError, estimateBytes } from '../src/main/index.ts';
import { CONTROL, Gate, controlPool, keysOnSameShard, outcome, until } from './helpers.ts';

const KIB = 1024;

describe('backpressure in bytes', () => {
  const pool = controlPool({ shards: 2, maxQueuedBytesPerKey: 100 * KIB, maxQueuedBytes: 250 * KIB });
  afterAll(() => pool.close({ force: true }));

  it('refuses a key past maxQueuedBytesPerKey with a bytes limit, while other keys still get in', async () => {
    const gate = new Gate();
    const accepted = [0, 1, 2, 3].map((n) => pool.run('big', { op: 'gate', gate: gate.buffer, slot: 0, value: n }, { bytes: 25 * KIB }));
    expect(pool.stats().queuedBytes).toBe(100 * KIB);
    const refused = await outcome(pool.run('big', { op: 'echo' }, { bytes: 1 }));
    expect(refused.ok || refused.error).toBeInstanceOf(QueueFullError);
    expect(refused.ok || refused.error).toMatchObject({ code: 'ERR_QUEUE_FULL', key: 'big', limit: 'maxQueuedBytesPerKey', max: 100 * KIB });
    expect(refused.ok || refused.error.message).toMatch(/maxQueuedBytesPerKey is 102400 bytes/);
    expect(pool.checkAdmission('big', 'normal', 1)).toMatchObject({ limit: 'maxQueuedBytesPerKey' });
    expect(pool.checkAdmission('big', 'normal', 0)).toBeUndefined();
    expect(await pool.run('other', { op: 'echo', value: 1 }, { bytes: 50 * KIB })).toMatchObject({ value: 1 });
    gate.open(0);
    expect(await Promise.all(accepted)).toEqual([0, 1, 2, 3]);
    expect(pool.stats().queuedBytes).toBe(0);
  });

  it('refuses past maxQueuedBytes for the whole pool', async () => {
    const gate = new Gate();
    const accepted = Array.from({ length: 5 }, (_, n) => pool.run(`k${n}`, { op: 'gate', gate: gate.buffer, slot: 0, value: n }, { bytes: 50 * KIB }));
    const refused = await outcome(pool.run('k-extra', { op: 'echo' }, { bytes: 1 }));
    expect(refused.ok || refused.error).toMatchObject({ code: 'ERR_QUEUE_FULL', limit: 'maxQueuedBytes', max: 250 * KIB });
    expect(refused.ok || refused.error.message).toMatch(/bytes/);
    gate.open(0);
    expect(await Promise.all(accepted)).toEqual([0, 1, 2, 3, 4]);
    expect(pool.stats().queuedBytes).toBe(0);
  });

  it('counts an estimate of the payload when run() does not state its bytes', async () => {
    const gate = new Gate();
    const payload = { op: 'gate', gate: gate.buffer, slot: 0, filler: 'x'.repeat(60 * KIB) };
    const first = pool.run('estimated', payload);
    expect(pool.stats().queuedBytes).toBe(estimateBytes(payload));
    expect(pool.stats().queuedBytes).toBeGreaterThan(60 * KIB);
    // A second one would put the key past 100 KiB.
    const second = await outcome(pool.run('estimated', payload));
    expect(second.ok || second.error).toMatchObject({ limit: 'maxQueuedBytesPerKey' });
    gate.open(0);
    await first;
  });

  it('rejects, never throws, when estimating the payload throws', async () => {
    const hostile = { get boom(): string { throw new Error('getter ran'); } };
    let run: Promise<unknown> | undefined;
    expect(() => (run = pool.run('hostile', hostile))).not.toThrow();
    await expect(run).rejects.toThrow('getter ran');
    expect(pool.stats().queuedBytes).toBe(0);
  });

  it('admits a task larger than the bound alone, once nothing else holds bytes', async () => {
    const gate = new Gate();
    const blocker = pool.run('huge', { op: 'gate', gate: gate.buffer, slot: 0 }, { bytes: 10 });
    const behind = await outcome(pool.run('huge', { op: 'echo' }, { bytes: 1024 * KIB }));
    expect(behind.ok || behind.error).toMatchObject({ limit: 'maxQueuedBytesPerKey' });
    gate.open(0);
    await blocker;
    expect(await pool.run('huge', { op: 'echo', value: 'alone' }, { bytes: 1024 * KIB })).toMatchObject({ value: 'alone' });
  });
});

describe('queued bytes are released on every settlement path', () => {
  const pool = controlPool({ shards: 2, maxQueuedBytesPerKey: 10 * KIB, maxQueuedBytes: 10 * KIB });
  afterAll(() => pool.close({ force: true }));
  const full = (): Promise<unknown> => pool.run('probe', { op: 'echo', value: 'room' }, { bytes: 10 * KIB });

  const paths: [string, () => Promise<void>][] = [
    ['ok', async () => void (await pool.run('p', { op: 'echo' }, { bytes: 4 * KIB }))],
    ['a handler error', async () => void (await outcome(pool.run('p', { op: 'throw', message: 'no' }, { bytes: 4 * KIB })))],
    ['a deadline', async () => void (await outcome(pool.run('p', { op: 'hang' }, { bytes: 4 * KIB, timeoutMs: 20 })))],
    ['cancel(key)', async () => {
      const gate = new Gate();
      const running = outcome(pool.run('p', { op: 'gate', gate: gate.buffer, slot: 0, startedGate: gate.buffer, startedSlot: 1 }, { bytes: 4 * KIB }));
      const queued = outcome(pool.run('p', { op: 'echo' }, { bytes: 4 * KIB }));
      await gate.reached(1);
      expect(pool.stats().queuedBytes).toBe(8 * KIB);
      pool.cancel('p');
      await Promise.all([running, queued]);
      gate.open(0);
    }],
    ['a caller signal', async () => {
      const controller = new AbortController();
      const run = outcome(pool.run('p', { op: 'hang' }, { bytes: 4 * KIB, signal: controller.signal }));
      controller.abort();
      expect((await run).ok).toBe(false);
    }],
    ['an uncloneable payload', async () => void (await outcome(pool.run('p', { op: 'echo', value: () => 1 }, { bytes: 4 * KIB })))],
    ['a worker crash', async () => {
      const [a, b] = keysOnSameShard(pool, 2, 'crash');
      const gate = new Gate();
      const held = outcome(pool.run(b!, { op: 'gate', gate: gate.buffer, slot: 0, startedGate: gate.buffer, startedSlot: 1 }, { bytes: 4 * KIB }));
      await gate.reached(1);
      const crash = await outcome(pool.run(a!, { op: 'exit', code: 1 }, { bytes: 4 * KIB }));
      expect(crash.ok || crash.error).toMatchObject({ code: 'ERR_SHARD_RESTARTED' });
      expect((await held).ok).toBe(false);
    }],
  ];
  for (const [what, settle] of paths) {
    it(`after ${what}`, async () => {
      await settle();
      expect(pool.stats().queuedBytes).toBe(0);
      expect(pool.stats().shards.map((s) => s.queuedBytes)).toEqual([0, 0]);
      // The bound has all its room back.
      await expect(full()).resolves.toMatchObject({ value: 'room' });
    });
  }

  it('after close({ force: true })', async () => {
    const closing = controlPool({ shards: 1, maxQueuedBytes: 10 * KIB });
    const runs = [outcome(closing.run('c', { op: 'hang' }, { bytes: 3 * KIB })), outcome(closing.run('c', { op: 'echo' }, { bytes: 3 * KIB }))];
    expect(closing.stats().queuedBytes).toBe(6 * KIB);
    await closing.close({ force: true });
    expect((await Promise.all(runs)).every((r) => !r.ok)).toBe(true);
    expect(closing.stats().queuedBytes).toBe(0);
  });
});

describe('control tasks', () => {
  it('get in past maxQueued and the byte bounds, up to their own maxQueuedControl', async () => {
    const pool = controlPool({ shards: 1, maxQueued: 2, maxQueuedBytes: 1000, maxQueuedControl: 2 });
    try {
      const gate = new Gate();
      const hung = [0, 1].map((n) => pool.run(`h${n}`, { op: 'gate', gate: gate.buffer, slot: 0 }, { bytes: 500 }));
      expect(pool.checkAdmission('h0')).toMatchObject({ limit: 'maxQueued' });
      const controlGate = new Gate();
      const controls = [0, 1].map(() => pool.run('h0', { op: 'gate', gate: controlGate.buffer, slot: 0, value: 'stopped' }, { priority: 'control' }));
      const third = await outcome(pool.run('h0', { op: 'echo' }, { priority: 'control' }));
      expect(third.ok || third.error).toMatchObject({ code: 'ERR_QUEUE_FULL', limit: 'maxQueuedControl', max: 2 });
      expect(third.ok || third.error.message).toMatch(/maxQueuedControl is 2 tasks/);
      controlGate.open(0);
      expect(await Promise.all(controls)).toEqual(['stopped', 'stopped']);
      // Control tasks took nothing from the normal bounds, and their allowance is back.
      expect(await pool.run('h0', { op: 'echo', value: 'again' }, { priority: 'control' })).toMatchObject({ value: 'again' });
      gate.open(0);
      await Promise.all(hung);
      await until(() => pool.stats().queued + pool.stats().running === 0);
    } finally {
      await pool.close({ force: true });
    }
  });
});

describe('byte options', () => {
  it('are validated, naming the option and the value', () => {
    expect(() => new LanePool({ handler: CONTROL, maxQueuedBytes: 0 })).toThrow(/options.maxQueuedBytes must be between 1 and .*, got 0/);
    expect(() => new LanePool({ handler: CONTROL, maxQueuedBytesPerKey: 1.5 })).toThrow(/options.maxQueuedBytesPerKey must be an integer, got 1.5/);
    expect(() => new LanePool({ handler: CONTROL, maxQueuedControl: -1 })).toThrow(/options.maxQueuedControl must be between 1/);
  });

  it('refuse a bad run() bytes', async () => {
    const pool = controlPool({ shards: 1 });
    try {
      await expect(pool.run('k', { op: 'echo' }, { bytes: -1 })).rejects.toThrow(/options.bytes must be between 0 and .*, got -1/);
      await expect(pool.run('k', { op: 'echo' }, { bytes: '5' as unknown as number })).rejects.toThrow(/options.bytes must be an integer, got "5"/);
      expect(() => pool.checkAdmission('k', 'normal', Number.NaN)).toThrow(RangeError);
    } finally {
      await pool.close({ force: true });
    }
  });
});

describe('estimateBytes', () => {
  it('counts strings by length and binary data by byteLength', () => {
    expect(estimateBytes('x'.repeat(10_000))).toBeGreaterThanOrEqual(10_000);
    expect(estimateBytes(new Uint8Array(50_000))).toBeGreaterThanOrEqual(50_000);
    expect(estimateBytes(new ArrayBuffer(50_000))).toBeGreaterThanOrEqual(50_000);
    expect(estimateBytes({ a: { b: ['y'.repeat(5000), new Float64Array(1000)] } })).toBeGreaterThanOrEqual(13_000);
    // Shared memory is not copied into the task.
    expect(estimateBytes(new SharedArrayBuffer(1 << 20))).toBeLessThan(100);
  });

  it('stays near the real size of a huge array without visiting all of it', () => {
    const big = Array.from({ length: 200_000 }, (_, i) => `item-${i % 10}`);
    const estimate = estimateBytes(big);
    expect(estimate).toBeGreaterThan(200_000 * 6);
    expect(estimate).toBeLessThan(200_000 * 60);
    const objects = Array.from({ length: 50_000 }, () => ({ text: 'z'.repeat(100) }));
    expect(estimateBytes(objects)).toBeGreaterThan(50_000 * 100);
    // An object of many small fields costs V8 a hash table: far more than its JSON.
    const fields = Object.fromEntries(Array.from({ length: 25_000 }, (_, i) => [`k${i}`, i]));
    expect(estimateBytes(fields)).toBeGreaterThan(3 * JSON.stringify(fields).length);
  });

  it('terminates on cycles and on very deep nesting', () => {
    const cycle: Record<string, unknown> = { s: 'abc' };
    cycle.self = cycle;
    expect(Number.isFinite(estimateBytes(cycle))).toBe(true);
    let deep: unknown = 'leaf';
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(Number.isFinite(estimateBytes(deep))).toBe(true);
    const map = new Map([['k', 'v'.repeat(1000)]]);
    expect(estimateBytes(map)).toBeGreaterThan(1000);
    expect(estimateBytes(new Set(['w'.repeat(1000)]))).toBeGreaterThan(1000);
  });
});
