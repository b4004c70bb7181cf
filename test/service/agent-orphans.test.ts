/**
 * No agent process outlives its worker or the service: a stalled worker, a crashed worker, and a
 * SIGTERM of the `lanepool serve` process each leave no fake-codex running, checked in the OS process
 * list. The stall and the crash are driven through a pool running the reactor behind a test fixture
 * (stalling-reactor.mjs), since the codex provider itself cannot stall its worker.
 */
import { execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { LanePool } from '../../src/main/pool.ts';
import { AgentProcesses } from '../../src/main/service/agent-processes.ts';
import type { ReactorTask } from '../../src/shared/service/intents.ts';
import type { ReactorData } from '../../src/shared/service/provider.ts';
import { FAKE_CODEX, FAKE_CODEX_COMMAND, eventually, pidsIn, workspace } from './codex-helpers.ts';

/** An agent that ignores both its stdin closing and SIGTERM: only SIGKILL ends it. */
const STUBBORN = { ignoreSigterm: true, ignoreStdinEnd: true };
const STALLING_REACTOR = new URL('../fixtures/stalling-reactor.mjs', import.meta.url).href;
const BIN = fileURLToPath(new URL('../../src/main/service/bin.mjs', import.meta.url));

/** True while `ps` lists the pid as a live process (a zombie, state Z, is dead). */
function inProcessList(pid: number): boolean {
  try {
    const state = execFileSync('ps', ['-o', 'stat=', '-p', String(pid)], { encoding: 'utf8' }).trim();
    return state !== '' && !state.startsWith('Z');
  } catch {
    return false; // ps exits 1 when no process matches
  }
}

let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await close?.();
  close = undefined;
});

async function poolWithAgents(root: string) {
  const agents = new AgentProcesses({ stopGraceMs: 500 });
  const handlerData: ReactorData = {
    agent: { protocol: 'codex', command: [process.execPath, FAKE_CODEX], workspaceRoot: root, stopGraceMs: 500, registry: agents.channelName },
    simulator: { startMs: 0, sendMs: 0, interruptMs: 0, stopMs: 0 },
    sessions: { maxPerWorker: 100, idleMs: 0, maxResumeCursors: 100 },
  };
  const pool = new LanePool<ReactorTask, unknown>({ handler: STALLING_REACTOR, shards: 1, stallTimeoutMs: 500, handlerData });
  agents.watch(pool);
  await pool.ready();
  close = async () => {
    await pool.close({ force: true });
    await agents.stop();
  };
  return { pool, agents };
}

const turn = (intentId: string, input: string): ReactorTask => ({ type: 'thread.turn.start', intentId, payload: { input, cwd: 'ok' } }) as ReactorTask;

describe('agent processes', () => {
  for (const [how, input, code] of [['stalls', 'spin-worker', 'ERR_SHARD_RESTARTED'], ['crashes', 'kill-worker', 'ERR_SHARD_RESTARTED']] as const) {
    it(`are killed when their worker ${how} and is replaced`, async () => {
      const root = workspace({ ok: STUBBORN });
      const { pool, agents } = await poolWithAgents(root);
      const hung = ['a', 'b'].map((thread, i) => pool.run(thread, turn(`hang-${i}`, 'hang')).catch((error: unknown) => error));
      // Both agents up: known to the registry, and running (each wrote its pid file once started).
      expect(await eventually(() => agents.pids().length === 2 && pidsIn(join(root, 'ok')).length === 2)).toBe(true);
      const pids = agents.pids();
      expect(pids.sort()).toEqual(pidsIn(join(root, 'ok')).sort());
      expect(pids.every(inProcessList)).toBe(true);

      await expect(pool.run('c', turn('break', input))).rejects.toMatchObject({ code });
      expect(await eventually(() => !pids.some(inProcessList))).toBe(true);
      expect(agents.orphansKilled).toBe(2);
      for (const error of await Promise.all(hung)) expect(error).toMatchObject({ code: 'ERR_SHARD_RESTARTED' });

      // The replacement worker starts agents of its own, and they are known too.
      void pool.run('a', turn('hang-again', 'hang')).catch(() => {});
      expect(await eventually(() => agents.pids().length === 1)).toBe(true);
    });
  }

  it('are all gone once `lanepool serve` exits on SIGTERM', async () => {
    const root = workspace({ ok: STUBBORN });
    const child = spawn(process.execPath, [
      BIN, 'serve', '--port', '0', '--shards', '2', '--grace-ms', '300', '--provider', 'codex',
      '--codex-command', FAKE_CODEX_COMMAND, '--workspace-root', root, '--agent-stop-grace-ms', '500',
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    const url = await new Promise<string>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`exited early with ${code}`)));
      createInterface({ input: child.stdout! }).on('line', (line) => {
        const entry = JSON.parse(line) as Record<string, unknown>;
        if (entry.msg === 'lanepool service listening') resolve(entry.url as string);
      });
    });
    for (const thread of ['t1', 't2', 't3', 't4']) {
      const res = await request(`${url}/v1/threads/${thread}/intents`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ type: 'thread.turn.start', payload: { input: 'hang', cwd: 'ok' } }),
      });
      expect(res.statusCode).toBe(202);
      await res.body.dump();
    }
    expect(await eventually(() => pidsIn(join(root, 'ok')).length === 4)).toBe(true);
    const pids = pidsIn(join(root, 'ok'));
    expect(pids).toHaveLength(4);
    expect(pids.every(inProcessList)).toBe(true);
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(await eventually(() => !pids.some(inProcessList))).toBe(true);
  });
});
