import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Service } from '../../src/main/service/server.ts';
import { http, startTestService, submit } from './helpers.ts';

describe('service operations', () => {
  let service: Service;
  beforeAll(async () => (service = await startTestService({ stuckAfterMs: 1 })));
  afterAll(() => service.shutdown());

  it('POST /v1/drain answers 200 when idle, and 504 naming the busy thread when a start hangs', async () => {
    expect(await http(service, 'POST', '/v1/drain?timeoutMs=1000')).toMatchObject({ status: 200, body: { drained: true } });
    await submit(service, 'stuck-thread', { type: 'thread.turn.start', payload: { input: 'x', simulate: { startHangMs: 'forever' } } });
    await submit(service, 'fine-thread', { type: 'thread.turn.start', payload: { input: 'x' } }, true);
    const drain = await http(service, 'POST', '/v1/drain?timeoutMs=200');
    expect(drain.status).toBe(504);
    expect(drain.body).toMatchObject({ error: { code: 'ERR_DRAIN_TIMEOUT' }, busyThreads: ['stuck-thread'] });
  });

  it('GET /metrics reports intents by type and outcome, latency, depth, lanes, stuck lanes and loop lag', async () => {
    const metrics = await http(service, 'GET', '/metrics');
    expect(metrics.status).toBe(200);
    const text = String(metrics.body);
    expect(text).toMatch(/lanepool_intents_total\{type="thread.turn.start",outcome="completed"\} [1-9]/);
    expect(text).toMatch(/lanepool_intent_duration_seconds_bucket\{le="0.1",type="thread.turn.start",outcome="completed"\}/);
    expect(text).toMatch(/lanepool_queue_depth\{shard="0"\} \d+/);
    expect(text).toMatch(/lanepool_active_lanes\{shard="\d"\} 1/);
    // The hung start has been running longer than --stuck-after-ms=1.
    const stuck = [...text.matchAll(/lanepool_stuck_lanes\{shard="\d"\} (\d+)/g)].map((m) => Number(m[1]));
    expect(stuck.reduce((a, b) => a + b, 0)).toBe(1);
    expect(text).toMatch(/nodejs_eventloop_lag_p99_seconds \d/);
  });

  it('GET /healthz and /readyz answer ok while serving', async () => {
    expect(await http(service, 'GET', '/healthz')).toMatchObject({ status: 200, body: { status: 'ok' } });
    expect(await http(service, 'GET', '/readyz')).toMatchObject({ status: 200, body: { status: 'ready' } });
  });

  it('on shutdown, answers 503 to new intents, then cancels what the grace period left, settling everything', async () => {
    const other = await startTestService({ graceMs: 300 });
    const hung = submit(other, 'h', { type: 'thread.turn.start', payload: { input: 'x', simulate: { startHangMs: 'forever' } } }, true);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const closing = other.shutdown();
    const refused = await submit(other, 'late', { type: 'thread.turn.start', payload: { input: 'x' } });
    expect(refused.status).toBe(503);
    expect(refused.body.error.code).toBe('ERR_SHUTTING_DOWN');
    expect((await http(other, 'GET', '/readyz')).status).toBe(503);
    const settled = await hung;
    expect(settled.body).toMatchObject({ status: 'cancelled', error: { code: 'ERR_LANE_CANCELLED', message: expect.stringContaining('service shutting down') } });
    await closing;
    expect(other.state()).toBe('closed');
  });
});
