/** An agent process as a worker runs it: exit detection, a stop that cannot hang, a start that is cancelled. */
import { tmpdir } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { ProviderExitedError } from '../../src/shared/errors.ts';
import { isRunning } from '../../src/main/service/agent-processes.ts';
import { AgentLauncher, findProgram, type AgentProcess } from '../../src/worker/service/agent-process.ts';

const started: AgentProcess[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((agent) => agent.stop()));
});

function launcher(script: string, stopGraceMs = 5000): AgentLauncher {
  return new AgentLauncher({ command: [process.execPath, '-e', script], stopGraceMs }, 0);
}

async function spawn(script: string, options: { stopGraceMs?: number; signal?: AbortSignal } = {}): Promise<AgentProcess> {
  const agent = await launcher(script, options.stopGraceMs).spawn({ cwd: tmpdir(), ...(options.signal ? { signal: options.signal } : {}) });
  started.push(agent);
  return agent;
}

describe('an agent process', () => {
  it('is reported exited, with its stderr tail, when it dies by itself', async () => {
    const agent = await spawn('process.stderr.write("going down\\n"); process.exit(3)');
    const exit = await agent.exited;
    expect(exit).toEqual({ code: 3, signal: null });
    expect(agent.alive).toBe(false);
    const error = agent.exitedError('turn');
    expect(error).toBeInstanceOf(ProviderExitedError);
    expect(error.code).toBe('ERR_PROVIDER_EXITED');
    expect(error.exitCode).toBe(3);
    expect(error.message).toContain('going down');
  });

  it('is killed by SIGKILL after the grace when it ignores SIGTERM', async () => {
    const agent = await spawn('process.on("SIGTERM", () => {}); console.log("up"); setInterval(() => {}, 1000)', { stopGraceMs: 100 });
    await new Promise((resolve) => agent.stdout.once('data', resolve));
    await agent.stop();
    expect(agent.exit?.signal).toBe('SIGKILL');
    expect(isRunning(agent.pid)).toBe(false);
  });

  it('takes its process group down: a command it started goes too', async () => {
    const agent = await spawn(
      'const c = require("node:child_process").spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" }); console.log(c.pid); setInterval(() => {}, 1000)',
    );
    const grandchild = Number(await new Promise<string>((resolve) => agent.stdout.once('data', (chunk: Buffer) => resolve(chunk.toString()))));
    expect(isRunning(grandchild)).toBe(true);
    await agent.stop();
    const deadline = Date.now() + 10_000;
    while (isRunning(grandchild) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(isRunning(grandchild)).toBe(false);
  });

  it('is stopped when its start is aborted, and kept once the start succeeded', async () => {
    const controller = new AbortController();
    const agent = await spawn('setInterval(() => {}, 1000)', { signal: controller.signal });
    controller.abort();
    await agent.exited;
    expect(agent.exit?.signal).toBe('SIGTERM');

    const kept = new AbortController();
    const other = await spawn('setInterval(() => {}, 1000)', { signal: kept.signal });
    other.started();
    kept.abort();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(other.alive).toBe(true);
  });

  it('is found on PATH or in node_modules/.bin, and refused clearly when it is nowhere', async () => {
    expect(findProgram('vitest')).toMatch(/node_modules\/\.bin\/vitest$/);
    expect(findProgram('sh')).toMatch(/\/sh$/);
    expect(findProgram('no-such-agent-anywhere')).toBeUndefined();
    const missing = new AgentLauncher({ command: ['no-such-agent-anywhere'], stopGraceMs: 10 }, 0);
    await expect(missing.spawn({ cwd: tmpdir() })).rejects.toMatchObject({ code: 'ERR_PROVIDER', message: expect.stringContaining('no-such-agent-anywhere') });
  });
});

describe('an agent launcher', () => {
  it('spawns one agent per event-loop turn, so a burst of session starts cannot block its worker in one turn', async () => {
    // Count event-loop turns with a chain of setImmediate; note the turn each spawn resolved in.
    let turns = 0;
    let counting = true;
    const tick = (): void => {
      turns++;
      if (counting) setImmediate(tick);
    };
    setImmediate(tick);
    const launch = launcher('setInterval(() => {}, 1000)');
    const seen: number[] = [];
    const agents = await Promise.all(Array.from({ length: 5 }, () => launch.spawn({ cwd: tmpdir() }).then((agent) => {
      seen.push(turns);
      return agent;
    })));
    counting = false;
    started.push(...agents);
    expect(new Set(seen).size).toBe(5);
  });

  it('does not spawn for a start cancelled while it waited for its turn', async () => {
    const launch = launcher('setInterval(() => {}, 1000)');
    const controller = new AbortController();
    const first = launch.spawn({ cwd: tmpdir() });
    const second = launch.spawn({ cwd: tmpdir(), signal: controller.signal });
    controller.abort(new Error('stopped while waiting'));
    started.push(await first);
    await expect(second).rejects.toThrow('stopped while waiting');
  });
});
