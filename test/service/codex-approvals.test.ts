/**
 * The codex provider's approvals and user-input requests, driven directly against a real fake-codex
 * process: every decision, the user-input shape, the event kinds. The HTTP round trip (events stream,
 * then thread.approval.respond) is in codex-provider.test.ts.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Provider, ProviderEvent, ProviderSession } from '../../src/shared/service/provider.ts';
import { createCodexProvider } from '../../src/worker/service/providers/codex.ts';
import { FAKE_CODEX, eventually, isRunning, pidsIn, workspace } from './codex-helpers.ts';

let cleanup: (() => Promise<void>) | undefined;
afterEach(async () => {
  await cleanup?.();
  cleanup = undefined;
});

async function session(root: string, cwd = 'ok'): Promise<{ provider: Provider; session: ProviderSession }> {
  const provider = createCodexProvider({ protocol: 'codex', command: [process.execPath, FAKE_CODEX], workspaceRoot: root, stopGraceMs: 2000 }, { shard: 0 });
  const base = { signal: new AbortController().signal, emit: () => {}, intentId: 'start', attempt: 1 };
  const started = await provider.startSession({ ...base, threadId: 't1', runtimeMode: 'default', cwd });
  cleanup = () => provider.stopSession(started, base);
  return { provider, session: started };
}

/** Runs a turn, calling `answer` with each request event as it arrives. */
async function turnWith(provider: Provider, started: ProviderSession, input: string, answer: (event: ProviderEvent) => Promise<unknown>) {
  const events: ProviderEvent[] = [];
  const answers: Promise<unknown>[] = [];
  const emit = (event: ProviderEvent): void => {
    events.push(event);
    if (event.requestId !== undefined) answers.push(answer(event));
  };
  const result = await provider.sendTurn(started, { signal: new AbortController().signal, emit, intentId: 'turn', attempt: 1, input });
  return { result, events, answers: await Promise.all(answers) };
}

const call = { signal: new AbortController().signal, emit: () => {}, intentId: 'answer', attempt: 1 };

describe('the codex provider', () => {
  it('streams an approval request with a requestId and answers it with Codex\'s decision', async () => {
    const { provider, session: started } = await session(workspace({ ok: {} }));
    const { result, events, answers } = await turnWith(provider, started, 'approval', (event) =>
      provider.respondToApproval(started, { ...call, requestId: event.requestId!, decision: 'accept-for-session' }));
    expect(answers).toEqual([{ requestId: expect.any(String), decision: 'acceptForSession' }]);
    const kinds = events.map((event) => event.kind);
    expect(kinds).toEqual(['turn.started', 'item.started', 'approval.requested', 'server-request.resolved', 'item.completed', 'turn.completed']);
    const request = events.find((event) => event.kind === 'approval.requested')!;
    expect(request).toMatchObject({ turnId: 'turn_1', data: { method: 'item/commandExecution/requestApproval', params: { command: 'rm -rf build' } } });
    expect(events.find((event) => event.kind === 'item.completed')?.data).toMatchObject({ item: { status: 'completed', decision: 'acceptForSession' } });
    expect(result).toMatchObject({ turnId: 'turn_1', status: 'completed' });
  });

  it('maps every decision: a declined command ends declined', async () => {
    const { provider, session: started } = await session(workspace({ ok: {} }));
    const { events } = await turnWith(provider, started, 'approval', (event) =>
      provider.respondToApproval(started, { ...call, requestId: event.requestId!, decision: 'decline' }));
    expect(events.find((event) => event.kind === 'item.completed')?.data).toMatchObject({ item: { status: 'declined', decision: 'decline' } });
  });

  it('answers a user-input request in Codex\'s shape and refuses an unknown requestId', async () => {
    const { provider, session: started } = await session(workspace({ ok: {} }));
    await expect(provider.respondToUserInput(started, { ...call, requestId: 'nope', answers: {} })).rejects.toMatchObject({ code: 'ERR_PROVIDER' });
    const { result, events } = await turnWith(provider, started, 'user-input', (event) =>
      provider.respondToUserInput(started, { ...call, requestId: event.requestId!, answers: { q1: 'the second' } }));
    expect(events.some((event) => event.kind === 'user-input.requested')).toBe(true);
    expect(result.output).toEqual({ text: 'answered {"q1":{"answers":["the second"]}}' });
  });

  it('streams items and deltas as provider events, kinds in kebab-case', async () => {
    const { provider, session: started } = await session(workspace({ ok: {} }));
    const { events } = await turnWith(provider, started, 'error items:1', async () => undefined);
    expect(events.map((event) => event.kind)).toEqual([
      'turn.started', 'error', 'item.started', 'item.agent-message.delta', 'item.agent-message.delta', 'item.completed', 'turn.completed',
    ]);
  });

  it('kills the process of a start that is aborted while initialize hangs', async () => {
    const root = workspace({ hung: { initialize: 'hang' } });
    const provider = createCodexProvider({ protocol: 'codex', command: [process.execPath, FAKE_CODEX], workspaceRoot: root, stopGraceMs: 2000 }, { shard: 0 });
    const controller = new AbortController();
    const start = provider.startSession({ signal: controller.signal, emit: () => {}, intentId: 'start', attempt: 1, threadId: 't1', runtimeMode: 'default', cwd: 'hung' });
    expect(await eventually(() => pidsIn(join(root, 'hung')).length === 1)).toBe(true);
    controller.abort(new Error('stop'));
    await expect(start).rejects.toThrow('stop');
    expect(isRunning(pidsIn(join(root, 'hung'))[0]!)).toBe(false);
  });

  it('refuses a cwd outside the workspace root before spawning anything', async () => {
    const provider = createCodexProvider({ protocol: 'codex', command: [process.execPath, FAKE_CODEX], workspaceRoot: workspace(), stopGraceMs: 2000 }, { shard: 0 });
    await expect(provider.startSession({ signal: new AbortController().signal, emit: () => {}, intentId: 's', attempt: 1, threadId: 't', runtimeMode: 'default', cwd: '/' }))
      .rejects.toMatchObject({ code: 'ERR_PROVIDER', message: expect.stringContaining('outside the workspace root') });
  });
});
