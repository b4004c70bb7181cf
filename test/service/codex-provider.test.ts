/** `--provider codex` over real HTTP, each session a real fake-codex process. */
import { join } from 'node:path';
import { symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import type { Service } from '../../src/main/service/server.ts';
import { http, startTestService, submit, threadsOnSameShard } from './helpers.ts';
import { eventually, isRunning, pidsIn, startCodexService, workspace } from './codex-helpers.ts';
import { openEvents, settlementOf } from './sse-client.ts';

let service: Service | undefined;
afterEach(async () => {
  await service?.shutdown();
  service = undefined;
});

function turn(input: string, cwd?: string, extra: Record<string, unknown> = {}) {
  return { type: 'thread.turn.start', payload: { input, ...(cwd ? { cwd } : {}), ...extra } };
}

describe('--provider codex', () => {
  it('runs a turn through a codex app-server and settles it with the Codex thread as its cursor', async () => {
    const root = workspace({ ok: {} });
    service = await startCodexService(root);
    const first = await submit(service, 't1', turn('items:3', 'ok'), true);
    expect(first.body.status).toBe('completed');
    expect(first.body.result).toMatchObject({ status: 'completed', cursor: expect.stringMatching(/^thr_/), output: { text: 'item 1\nitem 2\nitem 3' } });
    const second = await submit(service, 't1', turn('hello', 'ok'), true);
    expect(second.body.result).toMatchObject({ sessionId: first.body.result.sessionId, cursor: first.body.result.cursor, output: { text: 'echo: hello' } });
    expect(pidsIn(join(root, 'ok'))).toHaveLength(1);
  });

  it('streams a turn\'s Codex events over GET /v1/threads/:id/events and takes an approval answer over HTTP', async () => {
    const root = workspace({ ok: {} });
    service = await startCodexService(root);
    const events = await openEvents(service, 'approve');
    await submit(service, 'approve', { ...turn('approval', 'ok'), intentId: 'codex-approve-turn' });
    const asked = await events.waitFor((frame) => frame.event === 'provider' && frame.data.kind === 'approval.requested', 'the approval request');
    expect(asked.data).toMatchObject({ intentId: 'codex-approve-turn', turnId: 'turn_1', data: { method: 'item/commandExecution/requestApproval' } });
    const answer = await submit(service, 'approve', { type: 'thread.approval.respond', payload: { requestId: asked.data.requestId, decision: 'accept-for-session' } }, true);
    expect(answer.body).toMatchObject({ status: 'completed', result: { decision: 'acceptForSession' } });
    const settled = await events.waitFor(settlementOf('codex-approve-turn'), 'the turn\'s settlement');
    expect(settled.data).toMatchObject({ status: 'completed', result: { status: 'completed' } });
    const completed = events.frames.find((frame) => frame.data.kind === 'item.completed' && frame.data.data?.item?.type === 'commandExecution');
    expect(completed?.data.data.item).toMatchObject({ status: 'completed', decision: 'acceptForSession' });
    events.close();
  });

  it('contains a hung start to its thread: the other threads of its shard complete, and Stop kills its process', async () => {
    const root = workspace({ hung: { initialize: 'hang' }, ok: {} });
    service = await startCodexService(root);
    const [hung, ...others] = threadsOnSameShard(4, 2, 'codex');
    const hanging = await submit(service, hung!, turn('never', 'hung'));
    expect(hanging.status).toBe(202);
    expect(await eventually(() => pidsIn(join(root, 'hung')).length === 1)).toBe(true);
    const done = await Promise.all(others.map((thread) => submit(service!, thread, turn('hi', 'ok'), true)));
    expect(done.map((reply) => reply.body.status)).toEqual(['completed', 'completed', 'completed']);

    const stop = await submit(service, hung!, { type: 'thread.session.stop', payload: {} }, true);
    expect(stop.body).toMatchObject({ status: 'completed', result: { stopped: false, wasStarting: true } });
    const start = await http(service, 'GET', `/v1/intents/${hanging.body.intentId}`);
    expect(start.body.status).toBe('cancelled');
    const [pid] = pidsIn(join(root, 'hung'));
    expect(await eventually(() => !isRunning(pid!))).toBe(true);
  });

  it('ends a hung turn with an interrupt: the turn settles interrupted', async () => {
    const root = workspace({ ok: {} });
    service = await startCodexService(root);
    const hanging = await submit(service, 't1', turn('hang', 'ok'));
    let interrupted: unknown;
    expect(await eventually(async () => {
      const reply = await submit(service!, 't1', { type: 'thread.turn.interrupt', payload: {} }, true);
      interrupted = reply.body.result?.interrupted;
      return interrupted === true;
    })).toBe(true);
    expect(await eventually(async () => (await http(service!, 'GET', `/v1/intents/${hanging.body.intentId}`)).body.status === 'completed')).toBe(true);
    const record = await http(service, 'GET', `/v1/intents/${hanging.body.intentId}`);
    expect(record.body.result).toMatchObject({ status: 'interrupted', turnId: 'turn_1' });
  });

  it('fails a turn whose agent crashes with ERR_PROVIDER_EXITED, and starts a new session on the next turn', async () => {
    const root = workspace({ ok: {} });
    service = await startCodexService(root);
    const first = await submit(service, 't1', turn('hello', 'ok'), true);
    const crashed = await submit(service, 't1', turn('crash', 'ok'), true);
    expect(crashed.body).toMatchObject({ status: 'failed', error: { code: 'ERR_PROVIDER_EXITED', message: expect.stringContaining('code 3') } });
    const next = await submit(service, 't1', turn('again', 'ok'), true);
    expect(next.body).toMatchObject({ status: 'completed', result: { output: { text: 'echo: again' } } });
    expect(next.body.result.sessionId).not.toBe(first.body.result.sessionId);
    // The new session resumed the Codex thread of the first.
    expect(next.body.result.cursor).toBe(first.body.result.cursor);
    expect(pidsIn(join(root, 'ok'))).toHaveLength(2);
  });

  it('fails the start of an agent that exits at once with ERR_PROVIDER_EXITED', async () => {
    const root = workspace({ gone: { exitAtOnce: true } });
    service = await startCodexService(root);
    const reply = await submit(service, 't1', turn('hello', 'gone'), true);
    expect(reply.body).toMatchObject({ status: 'failed', error: { code: 'ERR_PROVIDER_EXITED', message: expect.stringContaining('during start') } });
  });

  it('retries a turn/start that Codex answers -32001 (overloaded)', async () => {
    const root = workspace({ busy: { overloaded: 3 } });
    service = await startCodexService(root);
    const reply = await submit(service, 't1', turn('hello', 'busy'), true);
    expect(reply.body).toMatchObject({ status: 'completed', result: { output: { text: 'echo: hello' } } });
  });

  it('refuses an unknown runtime mode with a typed error naming the modes', async () => {
    const root = workspace({ ok: {} });
    service = await startCodexService(root);
    const reply = await submit(service, 't1', turn('hello', 'ok', { runtimeMode: 'yolo' }), true);
    expect(reply.body).toMatchObject({ status: 'failed', error: { code: 'ERR_PROVIDER', message: expect.stringContaining('default, untrusted, read-only, auto') } });
  });

  it('refuses to start when the codex program is nowhere, naming --codex-command', async () => {
    await expect(startTestService({ provider: 'codex', codexCommand: 'no-such-codex-anywhere app-server', workspaceRoot: workspace() }))
      .rejects.toMatchObject({ code: 'ERR_CONFIG', message: expect.stringMatching(/^invalid --codex-command \(LANEPOOL_CODEX_COMMAND\): .*no-such-codex-anywhere/) });
  });

  it('answers 400 ERR_INVALID_CWD naming payload.cwd for a cwd outside --workspace-root, symlinks resolved', async () => {
    const root = workspace({ ok: {} });
    symlinkSync(tmpdir(), join(root, 'escape'));
    service = await startCodexService(root);
    for (const cwd of ['..', '/etc', 'escape', 'missing']) {
      const reply = await submit(service, 't1', turn('hello', cwd));
      expect(reply.status).toBe(400);
      expect(reply.body.error).toMatchObject({ code: 'ERR_INVALID_CWD', message: expect.stringContaining('payload.cwd') });
    }
    expect((await submit(service, 't1', turn('hello', join(root, 'ok')), true)).body.status).toBe('completed');
  });
});
