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
import { CodexWorkspace } from '../codex-agents.ts';
import type { PlannedIntent } from '../plan.ts';
import { SIMULATOR, failureOf, outcomeOf, type Outcome, type Target } from '../target.ts';

/** With `codex`, the service runs `--provider codex` on fake Codex app-server processes (see codex-agents.ts). */
export async function createLanes(options: { shards: number; target?: string; token?: string; codex?: boolean }): Promise<Target> {
  let service: Service | undefined;
  let base = options.target;
  const workspace = options.codex ? new CodexWorkspace() : undefined;
  if (base === undefined) {
    service = await startService(resolveConfig({
      port: 0, shards: options.shards, logLevel: 'warn', maxQueued: 1_000_000,
      simStartMs: SIMULATOR.startMs, simSendMs: SIMULATOR.sendMs, simInterruptMs: SIMULATOR.interruptMs, simStopMs: SIMULATOR.stopMs,
      ...(workspace ? { provider: 'codex', codexCommand: workspace.command.join(' '), workspaceRoot: workspace.root, agentStopGraceMs: 1000 } : {}),
    }));
    base = service.url;
  }
  let orphans = 0;
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

  async function submit(threadId: string, planned: PlannedIntent | { type: string; payload: object }): Promise<Outcome> {
    const intent = workspace && planned.type === 'thread.turn.start' ? workspace.intent(threadId, planned as PlannedIntent) : planned;
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
      if (record.status !== 'completed') return { ok: false, code: record.error?.code ?? record.status };
      return workspace ? workspace.outcome(record.result) : outcomeOf(record.result);
    } catch (error) {
      return failureOf(error);
    }
  }

  return {
    mode: 'lanes',
    submit,
    // With codex, a stop has worked once the thread's agent process is gone too.
    stop: async (threadId: string) => {
      const outcome = await submit(threadId, { type: 'thread.session.stop', payload: {} });
      if (!outcome.ok || workspace === undefined) return outcome;
      return (await workspace.gone(threadId)) ? outcome : { ok: false, code: 'AGENT_STILL_RUNNING' };
    },
    close: async () => {
      if (service) {
        // Release anything still hanging so shutdown does not wait out its grace period.
        for (const threadId of service.pool.busyKeys()) service.pool.cancel(threadId, 'load test mode over');
        await service.shutdown();
      }
      await agent.close();
      if (workspace) {
        orphans = workspace.running();
        workspace.remove();
      }
    },
    orphans: () => orphans,
  };
}
