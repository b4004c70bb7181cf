/**
 * The design under test, "lanes": lanepool's real HTTP service. Started here on an ephemeral loopback
 * port unless `--target` names a running one.
 *
 * Requests sent at once on different connections may reach the server in any order, so a client
 * that cares about order gets each intent of a thread *accepted* (202) before it sends the next; the
 * acceptance order is the order the service guarantees. The outcome is then awaited by submitting
 * the same intentId again with `?wait=true`, which returns the first submission's record once settled.
 */
import { Agent, request } from 'undici';
import { resolveConfig } from '../../../src/main/service/config.ts';
import { startService, type Service } from '../../../src/main/service/server.ts';
import type { PlannedIntent } from '../plan.ts';
import { SIMULATOR, failureOf, outcomeOf, type Outcome, type Target } from '../target.ts';

export async function createLanes(options: { shards: number; target?: string; token?: string }): Promise<Target> {
  let service: Service | undefined;
  let base = options.target;
  if (base === undefined) {
    service = await startService(resolveConfig({
      port: 0, shards: options.shards, logLevel: 'warn', maxQueued: 1_000_000,
      simStartMs: SIMULATOR.startMs, simSendMs: SIMULATOR.sendMs, simInterruptMs: SIMULATOR.interruptMs, simStopMs: SIMULATOR.stopMs,
    }));
    base = service.url;
  }
  // No connection cap: held ?wait=true requests of hung threads must not make healthy ones queue in the client.
  const agent = new Agent({ connections: null, pipelining: 1, headersTimeout: 0, bodyTimeout: 0 });
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (options.token) headers.authorization = `Bearer ${options.token}`;

  let nextId = 0;
  /** Per thread, the acceptance of its latest intent; an entry lives only while a send is pending. */
  const accepted = new Map<string, Promise<unknown>>();

  async function post(threadId: string, body: unknown, wait: boolean): Promise<{ status: number; record: Record<string, any> }> {
    const res = await request(`${base}/v1/threads/${encodeURIComponent(threadId)}/intents${wait ? '?wait=true' : ''}`, {
      method: 'POST', headers, body: JSON.stringify(body), dispatcher: agent,
    });
    return { status: res.statusCode, record: (await res.body.json()) as Record<string, any> };
  }

  async function submit(threadId: string, intent: PlannedIntent | { type: string; payload: object }): Promise<Outcome> {
    const body = { ...intent, intentId: `lt-${process.pid}-${++nextId}` };
    const previous = accepted.get(threadId) ?? Promise.resolve();
    const acceptance = previous.then(() => post(threadId, body, false));
    const settledAcceptance = acceptance.catch(() => undefined);
    accepted.set(threadId, settledAcceptance);
    void settledAcceptance.then(() => {
      if (accepted.get(threadId) === settledAcceptance) accepted.delete(threadId);
    });
    try {
      const first = await acceptance;
      if (first.status !== 202) return { ok: false, code: first.record.error?.code ?? `HTTP_${first.status}` };
      const { status, record } = await post(threadId, body, true);
      if (status !== 200) return { ok: false, code: record.error?.code ?? `HTTP_${status}` };
      return record.status === 'completed' ? outcomeOf(record.result) : { ok: false, code: record.error?.code ?? record.status };
    } catch (error) {
      return failureOf(error);
    }
  }

  return {
    mode: 'lanes',
    submit,
    stop: (threadId: string) => submit(threadId, { type: 'thread.session.stop', payload: {} }),
    close: async () => {
      if (service) {
        // Release anything still hanging so shutdown does not wait out its grace period.
        for (const threadId of service.pool.busyKeys()) service.pool.cancel(threadId, 'load test mode over');
        await service.shutdown();
      }
      await agent.close();
    },
  };
}
