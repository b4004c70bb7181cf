/**
 * The ACP provider against a real agent process: test/fixtures/fake-acp-agent.mjs, steered by the
 * prompt's directives and by fake-acp.json in the session's cwd.
 */
import { mkdtempSync, readFileSync, realpathSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { isRunning } from '../../src/main/service/agent-processes.ts';
import type { Provider, ProviderEvent, ProviderSession } from '../../src/shared/service/provider.ts';
import { createAcpProvider } from '../../src/worker/service/providers/acp.ts';

const FAKE = fileURLToPath(new URL('../fixtures/fake-acp-agent.mjs', import.meta.url));
const root = realpathSync(mkdtempSync(join(tmpdir(), 'lanepool-acp-')));
let provider: Provider;
const sessions: ProviderSession[] = [];

afterEach(async () => {
  await Promise.all(sessions.splice(0).map((session) => provider.stopSession(session, call().call)));
});

function make(): Provider {
  provider = createAcpProvider({ protocol: 'acp', command: [process.execPath, FAKE], workspaceRoot: root, stopGraceMs: 2000 }, { shard: 0 });
  return provider;
}

/** A fresh working directory inside the workspace root, with the fake agent's config when given. */
function workdir(config?: object): string {
  const dir = mkdtempSync(join(root, 'w-'));
  if (config !== undefined) writeFileSync(join(dir, 'fake-acp.json'), JSON.stringify(config));
  return dir;
}

/** The pids the fake agent wrote in `dir`, once there is at least one. */
async function pids(dir: string): Promise<number[]> {
  const file = join(dir, 'fake-acp.pids');
  for (;;) {
    if (existsSync(file)) {
      const found = readFileSync(file, 'utf8').split('\n').filter(Boolean).map(Number);
      if (found.length > 0) return found;
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A provider call that records its events; `next(kind)` resolves with the first event of that kind. */
function call(signal: AbortSignal = new AbortController().signal) {
  const events: ProviderEvent[] = [];
  const waiters: Array<{ kind: string; resolve: (event: ProviderEvent) => void }> = [];
  const emit = (event: ProviderEvent) => {
    events.push(event);
    for (const waiter of waiters.filter((w) => w.kind === event.kind)) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve(event);
    }
  };
  const next = (kind: string) => {
    const seen = events.find((event) => event.kind === kind);
    return seen ? Promise.resolve(seen) : new Promise<ProviderEvent>((resolve) => waiters.push({ kind, resolve }));
  };
  return { call: { signal, emit, intentId: 'i-1', attempt: 1 }, events, next };
}

async function start(dir: string, options: { runtimeMode?: string; resumeCursor?: string } = {}) {
  const c = call();
  const session = await provider.startSession({ ...c.call, threadId: 't', runtimeMode: options.runtimeMode ?? 'default', cwd: dir, ...(options.resumeCursor ? { resumeCursor: options.resumeCursor } : {}) });
  sessions.push(session);
  return { session, events: c.events };
}

describe('the acp provider, on a real agent process', () => {
  it('starts a session, streams a turn\'s updates as events in order, and completes it with the agent\'s text', async () => {
    make();
    const { session, events: startEvents } = await start(workdir());
    expect(session.sessionId).toMatch(/^fake-\d+-1$/);
    expect(startEvents).toEqual([expect.objectContaining({ kind: 'session.started', data: expect.objectContaining({ opened: 'new', agentInfo: { name: 'fake-acp-agent', version: '1.0.0' } }) })]);

    const c = call();
    const turn = await provider.sendTurn(session, { ...c.call, input: 'stream 5\nplan\ntool' });
    expect(turn).toMatchObject({ turnId: 'turn-1', status: 'completed', cursor: session.cursor, output: { stopReason: 'end_turn', text: 'chunk 1 chunk 2 chunk 3 chunk 4 chunk 5 ' } });
    expect(c.events.map((event) => event.kind)).toEqual(['turn.started', ...Array(5).fill('agent_message_chunk'), 'plan', 'tool_call', 'tool_call_update', 'turn.completed']);
    expect(c.events.at(-1)).toMatchObject({ turnId: 'turn-1', data: { status: 'completed', stopReason: 'end_turn' } });
    expect(c.events[1]).toMatchObject({ turnId: 'turn-1', data: { sessionUpdate: 'agent_message_chunk', content: { type: 'text', text: 'chunk 1 ' } } });
    expect(provider.isAlive!(session)).toBe(true);
  });

  it('holds a permission request as an approval.requested event until respondToApproval answers it', async () => {
    make();
    const { session } = await start(workdir());
    const c = call();
    const turn = provider.sendTurn(session, { ...c.call, input: 'permission' });
    const requested = await c.next('approval.requested');
    expect(requested).toMatchObject({ turnId: 'turn-1', requestId: expect.any(String), data: { toolCall: { toolCallId: 'tool-perm' } } });
    expect((requested.data as { options: unknown[] }).options).toHaveLength(4);

    const answer = await provider.respondToApproval(session, { ...call().call, requestId: requested.requestId!, decision: 'accept-for-session' });
    expect(answer).toEqual({ requestId: requested.requestId, decision: 'accept-for-session', matched: true, outcome: 'selected', optionId: 'opt-allow_always', kind: 'allow_always' });
    expect(await turn).toMatchObject({ status: 'completed', output: { text: 'permission: selected allow_always' } });
    expect(c.events.map((event) => event.kind)).toEqual(['turn.started', 'tool_call', 'approval.requested', 'approval.resolved', 'agent_message_chunk', 'turn.completed']);
    // Answered once: a second answer finds nothing pending, and changes nothing.
    expect(await provider.respondToApproval(session, { ...call().call, requestId: requested.requestId!, decision: 'accept' })).toEqual({ requestId: requested.requestId, decision: 'accept', matched: false });
  });

  it('refuses an accept the offered options cannot honour without sending anything, and a decline then answers', async () => {
    make();
    const { session } = await start(workdir());
    const c = call();
    const turn = provider.sendTurn(session, { ...c.call, input: 'permission allow_always,reject_always' });
    const { requestId } = await c.next('approval.requested');
    await expect(provider.respondToApproval(session, { ...call().call, requestId: requestId!, decision: 'accept' }))
      .rejects.toMatchObject({ code: 'ERR_PROVIDER', message: expect.stringContaining('allow_always, reject_always') });
    expect(await provider.respondToApproval(session, { ...call().call, requestId: requestId!, decision: 'decline' })).toMatchObject({ kind: 'reject_always' });
    expect(await turn).toMatchObject({ status: 'completed', output: { text: 'permission: selected reject_always' } });
  });

  it('interrupts a hung prompt with session/cancel: the turn ends interrupted, and a pending permission request is cancelled', async () => {
    make();
    const { session } = await start(workdir());
    expect(await provider.interruptTurn(session, call().call)).toEqual({ interrupted: false });

    const c = call();
    const hung = provider.sendTurn(session, { ...c.call, input: 'stream 1\nhang' });
    await c.next('agent_message_chunk');
    expect(await provider.interruptTurn(session, call().call)).toEqual({ interrupted: true });
    expect(await hung).toMatchObject({ status: 'interrupted', output: { stopReason: 'cancelled' } });

    const asking = call();
    const waiting = provider.sendTurn(session, { ...asking.call, input: 'permission' });
    await asking.next('approval.requested');
    await provider.interruptTurn(session, call().call);
    expect(await waiting).toMatchObject({ status: 'interrupted', output: { text: 'permission: cancelled' } });
    expect(await asking.next('approval.resolved')).toMatchObject({ data: { outcome: 'cancelled' } });
  });

  it('lets go of a turn whose signal fires, cancels it in the agent, and runs the next turn', async () => {
    make();
    const { session } = await start(workdir());
    const controller = new AbortController();
    const c = call(controller.signal);
    const hung = provider.sendTurn(session, { ...c.call, input: 'stream 1\nhang' });
    await c.next('agent_message_chunk');
    controller.abort(new Error('deadline'));
    await expect(hung).rejects.toThrow('deadline');
    expect(await provider.sendTurn(session, { ...call().call, input: 'hello' })).toMatchObject({ turnId: 'turn-2', status: 'completed', output: { text: 'echo: hello' } });
  });

  it('settles a refusal and the limits as failed, keeping the stop reason', async () => {
    make();
    const { session } = await start(workdir());
    for (const reason of ['refusal', 'max_tokens', 'max_turn_requests']) {
      expect(await provider.sendTurn(session, { ...call().call, input: `stop ${reason}` })).toMatchObject({ status: 'failed', output: { stopReason: reason } });
    }
  });

  it('fails a turn whose agent crashes with ERR_PROVIDER_EXITED, and the session is no longer alive', async () => {
    make();
    const { session } = await start(workdir());
    await expect(provider.sendTurn(session, { ...call().call, input: 'crash' })).rejects.toMatchObject({ code: 'ERR_PROVIDER_EXITED', exitCode: 3 });
    expect(provider.isAlive!(session)).toBe(false);
    await expect(provider.sendTurn(session, { ...call().call, input: 'hello' })).rejects.toMatchObject({ code: 'ERR_PROVIDER' });
  });

  it.each(['initialize', 'session/new'])('kills the process of a start hung in %s when its signal fires', async (step) => {
    make();
    const dir = workdir({ hang: step });
    const controller = new AbortController();
    const starting = provider.startSession({ ...call(controller.signal).call, threadId: 't', runtimeMode: 'default', cwd: dir });
    const [pid] = await pids(dir);
    expect(isRunning(pid!)).toBe(true);
    controller.abort(new Error('stopped'));
    await expect(starting).rejects.toThrow('stopped');
    expect(isRunning(pid!)).toBe(false);
  });

  it('fails a start whose agent exits during initialize with ERR_PROVIDER_EXITED', async () => {
    make();
    await expect(provider.startSession({ ...call().call, threadId: 't', runtimeMode: 'default', cwd: workdir({ exitAt: 'initialize' }) }))
      .rejects.toMatchObject({ code: 'ERR_PROVIDER_EXITED', operation: 'initialize' });
  });

  it('refuses an agent that speaks another protocol version, and kills it', async () => {
    make();
    const dir = workdir({ protocolVersion: 99 });
    await expect(provider.startSession({ ...call().call, threadId: 't', runtimeMode: 'default', cwd: dir }))
      .rejects.toMatchObject({ code: 'ERR_PROVIDER', message: expect.stringContaining('ACP version 99') });
    expect(isRunning((await pids(dir))[0]!)).toBe(false);
  });

  it('resumes from the cursor with session/load when the agent can, ignoring the replayed history, and starts anew when the agent no longer has it', async () => {
    make();
    const dir = workdir({ loadSession: true });
    const first = await start(dir);
    await provider.stopSession(first.session, call().call);

    const again = await start(dir, { resumeCursor: first.session.cursor! });
    expect(again.events).toEqual([expect.objectContaining({ kind: 'session.started', data: expect.objectContaining({ opened: 'load', acpSessionId: first.session.cursor }) })]);
    const c = call();
    expect(await provider.sendTurn(again.session, { ...c.call, input: 'hello' })).toMatchObject({ cursor: first.session.cursor, output: { text: 'echo: hello' } });
    expect(c.events.map((event) => event.kind)).toEqual(['turn.started', 'agent_message_chunk', 'turn.completed']);

    const lost = await start(dir, { resumeCursor: 'fake-gone-1' });
    expect(lost.events.map((event) => event.kind)).toEqual(['session.resume-failed', 'session.started']);
    expect(lost.session.cursor).not.toBe('fake-gone-1');
  });

  it('prefers session/resume, which replays nothing, when the agent advertises it', async () => {
    make();
    const dir = workdir({ resume: true, loadSession: true });
    const first = await start(dir);
    await provider.stopSession(first.session, call().call);
    const again = await start(dir, { resumeCursor: first.session.cursor! });
    expect(again.events).toEqual([expect.objectContaining({ kind: 'session.started', data: expect.objectContaining({ opened: 'resume', acpSessionId: first.session.cursor }) })]);
  });

  it('maps the runtime mode onto a mode the agent offers, and leaves the agent\'s mode when it offers none by that name', async () => {
    make();
    const dir = workdir({ modes: ['ask', 'accept-edits'] });
    const named = await start(dir, { runtimeMode: 'accept-edits' });
    expect(named.events[0]).toMatchObject({ data: { mode: 'accept-edits', runtimeMode: 'accept-edits' } });
    const other = await start(dir, { runtimeMode: 'default' });
    expect(other.events[0]).toMatchObject({ data: { mode: 'ask', runtimeMode: 'default' } });
  });

  it('refuses a cwd outside the workspace root before it spawns anything', async () => {
    make();
    const outside = realpathSync(mkdtempSync(join(tmpdir(), 'lanepool-acp-outside-')));
    await expect(provider.startSession({ ...call().call, threadId: 't', runtimeMode: 'default', cwd: outside }))
      .rejects.toMatchObject({ code: 'ERR_PROVIDER', message: expect.stringContaining('outside the workspace root') });
    expect(existsSync(join(outside, 'fake-acp.pids'))).toBe(false);
  });
});
