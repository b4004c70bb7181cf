/**
 * The service with `--provider acp`, over real HTTP, each session a real fake-agent process
 * (test/fixtures/fake-acp-agent.mjs, steered by the prompt and by fake-acp.json in the session's cwd).
 */
import { existsSync, mkdtempSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRunning } from '../../src/main/service/agent-processes.ts';
import type { Service } from '../../src/main/service/server.ts';
import { http, startTestService, submit, threadsOnSameShard } from './helpers.ts';
import { openEvents, settlementOf } from './sse-client.ts';

const FAKE = fileURLToPath(new URL('../fixtures/fake-acp-agent.mjs', import.meta.url));
const root = realpathSync(mkdtempSync(join(tmpdir(), 'lanepool-acp-http-')));

/** A working directory inside the workspace root, with the fake agent's config when given; relative to the root. */
function workdir(config?: object): string {
  const dir = mkdtempSync(join(root, 'w-'));
  if (config !== undefined) writeFileSync(join(dir, 'fake-acp.json'), JSON.stringify(config));
  return dir.slice(root.length + 1);
}

async function until<T>(probe: () => T | undefined, what: string): Promise<T> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The first pid the fake agent wrote in `dir` (relative to the root). */
function pidIn(dir: string): Promise<number> {
  const file = join(root, dir, 'fake-acp.pids');
  return until(() => (existsSync(file) ? Number(readFileSync(file, 'utf8').split('\n')[0]) || undefined : undefined), `a pid in ${file}`);
}

describe('service: --provider acp', () => {
  let service: Service;
  beforeAll(async () => {
    service = await startTestService({ shards: 2, provider: 'acp', agentCommand: `${process.execPath} ${FAKE}`, workspaceRoot: root });
  });
  afterAll(() => service.shutdown());

  it('runs a turn end to end on a real agent process, and the next turn reuses its session', async () => {
    const cwd = workdir();
    const first = await submit(service, 'acp-t1', { type: 'thread.turn.start', payload: { input: 'stream 3', cwd } }, true);
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({
      status: 'completed',
      result: { sessionId: expect.stringMatching(/^fake-/), turnId: 'turn-1', status: 'completed', output: { stopReason: 'end_turn', text: 'chunk 1 chunk 2 chunk 3 ' } },
    });
    const second = await submit(service, 'acp-t1', { type: 'thread.turn.start', payload: { input: 'hello' } }, true);
    expect(second.body).toMatchObject({ status: 'completed', result: { sessionId: first.body.result.sessionId, turnId: 'turn-2', output: { text: 'echo: hello' } } });
    const thread = await http(service, 'GET', '/v1/threads/acp-t1');
    expect(thread.body).toMatchObject({ session: { status: 'ready', sessionId: first.body.result.sessionId } });
  });

  it('settles a crashed agent\'s turn with ERR_PROVIDER_EXITED, and the next turn starts a new process', async () => {
    const cwd = workdir();
    const crashed = await submit(service, 'acp-crash', { type: 'thread.turn.start', payload: { input: 'crash', cwd } }, true);
    expect(crashed.body).toMatchObject({ status: 'failed', error: { code: 'ERR_PROVIDER_EXITED' } });
    const next = await submit(service, 'acp-crash', { type: 'thread.turn.start', payload: { input: 'hello', cwd } }, true);
    expect(next.body).toMatchObject({ status: 'completed', result: { turnId: 'turn-1', output: { text: 'echo: hello' } } });
  });

  it('lets Stop free a start hung in initialize, killing its process', async () => {
    const cwd = workdir({ hang: 'initialize' });
    const start = await submit(service, 'acp-hung', { type: 'thread.turn.start', payload: { input: 'x', cwd }, intentId: 'acp-hung-start' });
    expect(start.status).toBe(202);
    const pid = await pidIn(cwd);
    expect((await http(service, 'GET', '/v1/threads/acp-hung')).body).toMatchObject({ running: { intentId: 'acp-hung-start' }, session: { status: 'starting' } });

    const stop = await submit(service, 'acp-hung', { type: 'thread.session.stop', payload: {} }, true);
    expect(stop.body).toMatchObject({ status: 'completed', result: { stopped: false, wasStarting: true } });
    expect((await http(service, 'GET', '/v1/intents/acp-hung-start')).body).toMatchObject({ status: 'cancelled', error: { code: 'ERR_LANE_CANCELLED' } });
    await until(() => (isRunning(pid) ? undefined : true), `pid ${pid} to exit`);
  });

  it('contains a start hung in session/new to its thread: other threads on its shard complete their turns', async () => {
    const [hung, ...healthy] = threadsOnSameShard(3, 2, 'acp-contained');
    const cwd = workdir({ hang: 'session/new' });
    expect((await submit(service, hung!, { type: 'thread.turn.start', payload: { input: 'x', cwd } })).status).toBe(202);
    await pidIn(cwd);
    for (const thread of healthy) {
      const turn = await submit(service, thread, { type: 'thread.turn.start', payload: { input: 'stream 2', cwd: workdir() } }, true);
      expect(turn.body).toMatchObject({ status: 'completed', result: { status: 'completed', output: { text: 'chunk 1 chunk 2 ' } } });
    }
    expect((await http(service, 'GET', `/v1/threads/${hung}`)).body).toMatchObject({ session: { status: 'starting' } });
    expect((await submit(service, hung!, { type: 'thread.session.stop', payload: {} }, true)).body).toMatchObject({ status: 'completed' });
  });

  it('interrupts a hung prompt: the turn settles completed with status interrupted', async () => {
    const cwd = workdir();
    expect((await submit(service, 'acp-int', { type: 'thread.turn.start', payload: { input: 'hello', cwd } }, true)).body.status).toBe('completed');
    const turn = await submit(service, 'acp-int', { type: 'thread.turn.start', payload: { input: 'hang' }, intentId: 'acp-int-turn' });
    expect(turn.status).toBe(202);
    // Until the prompt runs in the agent there is nothing to interrupt ({ interrupted: false }): ask again.
    for (let tries = 0; ; tries++) {
      const interrupt = await submit(service, 'acp-int', { type: 'thread.turn.interrupt', payload: {} }, true);
      expect(interrupt.body.status).toBe('completed');
      if (interrupt.body.result.interrupted) break;
      expect(tries).toBeLessThan(500);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    let settled = await http(service, 'GET', '/v1/intents/acp-int-turn');
    while (settled.body.status === 'running') {
      await new Promise((resolve) => setTimeout(resolve, 20));
      settled = await http(service, 'GET', '/v1/intents/acp-int-turn');
    }
    expect(settled.body).toMatchObject({ status: 'completed', result: { status: 'interrupted', output: { stopReason: 'cancelled' } } });
  });

  it('streams a turn\'s ACP updates as provider events, and answers the agent\'s permission request through thread.approval.respond while the turn runs', async () => {
    const events = await openEvents(service, 'acp-approve');
    await submit(service, 'acp-approve', { type: 'thread.turn.start', payload: { input: 'stream 2\npermission', cwd: workdir() }, intentId: 'acp-approve-turn' });
    const asked = await events.waitFor((frame) => frame.data.kind === 'approval.requested', 'the approval request');
    expect(asked.data).toMatchObject({ intentId: 'acp-approve-turn', turnId: 'turn-1', data: { toolCall: { title: 'Write file' } } });
    expect(asked.data.data.options.map((option: { kind: string }) => option.kind)).toEqual(['allow_once', 'allow_always', 'reject_once', 'reject_always']);

    const answer = await submit(service, 'acp-approve', { type: 'thread.approval.respond', payload: { requestId: asked.data.requestId, decision: 'accept' } }, true);
    expect(answer.body).toMatchObject({ status: 'completed', result: { matched: true, outcome: 'selected', kind: 'allow_once' } });
    const turn = await events.waitFor(settlementOf('acp-approve-turn'), 'the turn\'s settlement');
    events.close();
    expect(turn.data).toMatchObject({ status: 'completed', result: { status: 'completed', output: { text: 'chunk 1 chunk 2 permission: selected allow_once' } } });
    const kinds = events.frames.filter((frame) => frame.event === 'provider' && frame.data.intentId === 'acp-approve-turn').map((frame) => frame.data.kind);
    expect(kinds).toEqual([
      'session.started', 'turn.started', 'agent_message_chunk', 'agent_message_chunk', 'tool_call', 'approval.requested', 'approval.resolved', 'agent_message_chunk', 'turn.completed',
    ]);
  });
});

describe('service: --provider acp without its agent program', () => {
  it('refuses to start, naming --agent-command', async () => {
    await expect(startTestService({ provider: 'acp', agentCommand: 'no-such-acp-agent --stdio', workspaceRoot: root }))
      .rejects.toMatchObject({ code: 'ERR_CONFIG', message: expect.stringMatching(/--agent-command.*no-such-acp-agent/) });
  });
});
