import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Service } from '../../src/main/service/server.ts';
import { http, startTestService, submit, threadsOnSameShard } from './helpers.ts';

describe('service: a provider that freezes its worker', () => {
  let service: Service;
  beforeAll(async () => (service = await startTestService({
    handler: fileURLToPath(new URL('../fixtures/spinning-provider.mjs', import.meta.url)), stallTimeoutMs: 300,
  })));
  afterAll(() => service.shutdown());

  it('fails the frozen intent, replays the others, and reports the restart in the thread and the metrics', async () => {
    const [frozen, neighbour] = threadsOnSameShard(2, 2, 'freeze');
    const shard = service.pool.shardOf(frozen!);
    // Start both sessions first, so the frozen turn is the only thing running when the worker stops.
    await submit(service, frozen!, { type: 'thread.turn.start', payload: { input: 'warm' } }, true);
    await submit(service, neighbour!, { type: 'thread.turn.start', payload: { input: 'warm' } }, true);

    const spin = submit(service, frozen!, { type: 'thread.turn.start', payload: { input: 'spin' } }, true);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const waiting = submit(service, neighbour!, { type: 'thread.turn.start', payload: { input: 'after' } }, true);

    expect((await spin).body).toMatchObject({ status: 'failed', error: { code: 'ERR_SHARD_RESTARTED' } });
    // The neighbour's intent had not started; it ran on the replacement worker (whose session state is new).
    expect((await waiting).body).toMatchObject({ status: 'completed', result: { turnId: 'turn-after' } });

    const thread = await http(service, 'GET', `/v1/threads/${frozen}`);
    expect(thread.body.shardRestarts).toEqual({ stall: 1, crash: 0, oom: 0 });
    const metrics = String((await http(service, 'GET', '/metrics')).body);
    expect(metrics).toContain(`lanepool_shard_restarts_total{shard="${shard}",reason="stall"} 1`);
    expect(metrics).toContain(`lanepool_shard_restarts_total{shard="${1 - shard}",reason="stall"} 0`);
    expect(metrics).toMatch(new RegExp(`lanepool_shard_state\\{shard="${shard}",state="ready"\\} 1`));
    expect((await http(service, 'GET', '/readyz')).body.status).toBe('ready');
  });
});
