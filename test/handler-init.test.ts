import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { HandlerLoadError, LanePool } from '../src/main/index.ts';
import { Gate, controlPool } from './helpers.ts';

const WITH_INIT = fileURLToPath(new URL('./fixtures/with-init.mjs', import.meta.url));

describe('handlerData and init', () => {
  it('runs init(data, { shard }) in every worker before the first task', async () => {
    const pool = new LanePool({ handler: WITH_INIT, shards: 2, handlerData: { prefix: 'hello' } });
    for (const key of ['a', 'b', 'c', 'd']) {
      const reply = (await pool.run(key, 'lane')) as { greeting: string; initShard: number; shard: number };
      expect(reply.greeting).toBe('hello lane');
      expect(reply.initShard).toBe(reply.shard);
    }
    await pool.close();
  });

  it('reports an init that throws as HandlerLoadError', async () => {
    const pool = new LanePool({ handler: WITH_INIT, shards: 1, handlerData: { failInit: true } });
    await expect(pool.ready()).rejects.toBeInstanceOf(HandlerLoadError);
    await expect(pool.run('a', 'x')).rejects.toThrow(/init failed: init refused its settings/);
    await pool.close();
  });

  it('refuses handlerData that cannot be cloned', () => {
    expect(() => new LanePool({ handler: WITH_INIT, handlerData: { fn: () => 1 } })).toThrow(/options\.handlerData must be structured-cloneable/);
  });
});

describe('onStart and checkAdmission', () => {
  it('calls onStart when the worker starts the task, not when it is queued', async () => {
    const pool = controlPool({ shards: 1 });
    const gate = new Gate();
    const started: string[] = [];
    const head = pool.run('k', { op: 'gate', gate: gate.buffer, slot: 0 }, { onStart: () => started.push('head') });
    const next = pool.run('k', { op: 'echo' }, { onStart: () => started.push('next') });
    await gate.reached(0, 0);
    await pool.inspect();
    expect(started).toEqual(['head']);
    gate.open(0);
    await Promise.all([head, next]);
    expect(started).toEqual(['head', 'next']);
    await pool.close();
  });

  it('tells what run() would refuse at once, without queueing anything', async () => {
    const pool = controlPool({ shards: 1, maxQueuedPerKey: 1 });
    const gate = new Gate();
    expect(pool.checkAdmission('k')).toBeUndefined();
    const head = pool.run('k', { op: 'gate', gate: gate.buffer, slot: 0 });
    expect(pool.checkAdmission('k')).toMatchObject({ code: 'ERR_QUEUE_FULL', limit: 'maxQueuedPerKey' });
    expect(pool.checkAdmission('k', 'control')).toBeUndefined();
    expect(() => pool.checkAdmission('')).toThrow(TypeError);
    gate.open(0);
    await head;
    const closing = pool.close();
    expect(pool.checkAdmission('k')).toMatchObject({ code: 'ERR_POOL_CLOSED' });
    await closing;
  });
});
