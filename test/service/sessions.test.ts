import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { ReactorStats } from '../../src/shared/service/provider.ts';
import type { ServiceConfig } from '../../src/main/service/config.ts';
import type { Service } from '../../src/main/service/server.ts';
import { until } from '../helpers.ts';
import { http, startTestService, submit } from './helpers.ts';

const LEDGER = fileURLToPath(new URL('../fixtures/session-ledger-provider.mjs', import.meta.url));
const SYNC_STOP = fileURLToPath(new URL('../fixtures/sync-stop-provider.mjs', import.meta.url));

let service: Service | undefined;
afterEach(async () => {
  await service?.shutdown();
  service = undefined;
});

/** One worker, so the ledger provider and the reactor see every thread. */
async function start(overrides: Partial<ServiceConfig>): Promise<Service> {
  return (service = await startTestService({ shards: 1, handler: LEDGER, ...overrides }));
}

async function turn(svc: Service, threadId: string, input = 'x') {
  const reply = await submit(svc, threadId, { type: 'thread.turn.start', payload: { input } }, true);
  expect(reply.body).toMatchObject({ status: 'completed' });
  return reply.body.result as { sessionId: string; cursor: string; output: { live: string[]; stopped: string[] } };
}

async function sessions(svc: Service): Promise<Partial<ReactorStats>> {
  const [worker] = await svc.pool.inspect();
  return worker!.handler;
}

describe('worker-side sessions', () => {
  it('stay at --max-sessions-per-worker: the least recently used idle sessions are evicted and stopped', async () => {
    const svc = await start({ maxSessionsPerWorker: 3 });
    for (let i = 0; i < 10; i++) {
      await turn(svc, `t-${i}`);
      expect((await sessions(svc)).sessions).toBe(Math.min(i + 1, 3));
    }
    // Turns of threads that have a session evict nothing.
    await turn(svc, 't-8');
    const last = await turn(svc, 't-9');
    expect(last.output.stopped).toEqual(['t-0#1', 't-1#2', 't-2#3', 't-3#4', 't-4#5', 't-5#6', 't-6#7']);
    expect(last.output.live).toEqual(['t-7#8', 't-8#9', 't-9#10']);
    expect(await sessions(svc)).toMatchObject({ sessions: 3, sessionsEvictedCap: 7, sessionsEvictedIdle: 0, resumeCursors: 7, sessionStopFailures: 0 });
  });

  it('an evicted thread\'s next turn starts a new session that resumes from its cursor', async () => {
    const svc = await start({ maxSessionsPerWorker: 1 });
    await submit(svc, 'a', { type: 'thread.runtime-mode.set', payload: { mode: 'plan' } }, true);
    const first = await turn(svc, 'a');
    const second = await turn(svc, 'a');
    expect(second).toMatchObject({ sessionId: first.sessionId, cursor: '2' });
    await turn(svc, 'b');
    expect((await http(svc, 'GET', '/v1/threads/a')).body).toMatchObject({ session: null, runtimeMode: 'plan' });
    const back = await turn(svc, 'a');
    expect(back.sessionId).not.toBe(first.sessionId);
    expect(back.output.stopped).toEqual([first.sessionId, 'b#2']);
    expect(back.cursor).toBe('3');
    expect((await http(svc, 'GET', '/v1/threads/a')).body.session).toMatchObject({ status: 'ready', runtimeMode: 'plan', sessionId: back.sessionId });
  });

  it('never evicts a thread with an intent in flight, even the least recently used one', async () => {
    const svc = await start({ maxSessionsPerWorker: 2 });
    const held = await turn(svc, 'busy');
    const holding = submit(svc, 'busy', { type: 'thread.turn.start', payload: { input: 'hold' } }, true);
    await until(() => svc.pool.stats().running === 1, 'a running turn');
    for (const thread of ['b', 'c', 'd']) await turn(svc, thread);
    const releasing = await turn(svc, 'e', 'release');
    expect(releasing.output.stopped).toEqual(['b#2', 'c#3', 'd#4']);
    const done = (await holding).body;
    expect(done).toMatchObject({ status: 'completed', result: { sessionId: held.sessionId, cursor: '2' } });
    expect(done.result.output.stopped).not.toContain(held.sessionId);
  });

  // Before the fix, eviction read `.then` of the returned undefined (or let the throw out) in a
  // background promise: an unhandled rejection that crashed the worker, failing the evicting turn
  // with ERR_SHARD_RESTARTED and dropping every session of the shard.
  it('evicting a session whose provider stopSession is synchronous (returns nothing, or throws) keeps the worker', async () => {
    const svc = await start({ handler: SYNC_STOP, maxSessionsPerWorker: 1 });
    for (const threadId of ['plain', 'throw', 'plain', 'throw', 'other']) await turn(svc, threadId);
    expect(svc.pool.stats().restarts).toBe(0);
    await until(async () => {
      const stats = await sessions(svc);
      return stats.sessionsEvictedCap === 4 && stats.sessionStopFailures === 2;
    }, '4 cap evictions and 2 failed stops');
  });

  it('evicts and stops a session idle for --session-idle-ms', async () => {
    const svc = await start({ sessionIdleMs: 50 });
    const first = await turn(svc, 'sleepy');
    await until(async () => (await sessions(svc)).sessions === 0, 'no worker session left');
    expect(await sessions(svc)).toMatchObject({ sessionsEvictedIdle: 1, threads: 0, resumeCursors: 1 });
    const back = await turn(svc, 'sleepy');
    expect(back.output.stopped).toEqual([first.sessionId]);
    expect(back).toMatchObject({ cursor: '2' });
    expect(back.sessionId).not.toBe(first.sessionId);
  });

  it('/metrics shows each worker\'s own heap and its session gauges', async () => {
    const svc = await start({ shards: 2, maxSessionsPerWorker: 1, handler: undefined });
    // Three threads on each shard: two evictions per worker.
    const byShard: string[][] = [[], []];
    for (let i = 0; byShard.some((keys) => keys.length < 3); i++) {
      const keys = byShard[svc.pool.shardOf(`m-${i}`)]!;
      if (keys.length < 3) keys.push(`m-${i}`);
    }
    for (const thread of byShard.flat()) await turn(svc, thread);
    const text = String((await http(svc, 'GET', '/metrics')).body);
    for (const shard of ['0', '1']) {
      expect(text).toMatch(new RegExp(`lanepool_worker_heap_used_bytes\\{shard="${shard}"\\} [1-9]\\d+`));
      expect(text).toMatch(new RegExp(`lanepool_worker_heap_limit_bytes\\{shard="${shard}"\\} [1-9]\\d+`));
      expect(text).toMatch(new RegExp(`lanepool_worker_sessions\\{shard="${shard}"\\} 1\\n`));
      expect(text).toMatch(new RegExp(`lanepool_worker_sessions_starting\\{shard="${shard}"\\} 0\\n`));
    }
    const evicted = [...text.matchAll(/lanepool_worker_sessions_evicted_total\{shard="\d",reason="cap"\} (\d+)/g)].map((m) => Number(m[1]));
    expect(evicted.reduce((a, b) => a + b, 0)).toBe(4);
  });
});
