import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../../src/main/service/bin.mjs', import.meta.url));

describe('lanepool serve', () => {
  it('drains on SIGTERM, cancels what is left, settles every intent, and exits 0', async () => {
    const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--shards', '2', '--grace-ms', '500'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const lines = createInterface({ input: child.stdout! });
    const log: Record<string, unknown>[] = [];
    const url = await new Promise<string>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`exited early with ${code}`)));
      lines.on('line', (line) => {
        const entry = JSON.parse(line) as Record<string, unknown>;
        log.push(entry);
        if (entry.msg === 'lanepool service listening') resolve(entry.url as string);
      });
    });
    const post = (thread: string, payload: unknown) => request(`${url}/v1/threads/${thread}/intents?wait=true`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ type: 'thread.turn.start', payload }),
    }).then(async (res) => ({ status: res.statusCode, body: (await res.body.json()) as { status: string; error?: { code: string } } }));

    const waiting = [post('hung', { input: 'x', simulate: { startHangMs: 'forever' } }), ...['a', 'b', 'c'].map((t) => post(t, { input: t }))];
    await new Promise((resolve) => setTimeout(resolve, 200));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const replies = await Promise.all(waiting);
    expect(await exited).toBe(0);
    expect(replies.every((r) => r.status === 200)).toBe(true);
    expect(replies[0]!.body).toMatchObject({ status: 'cancelled', error: { code: 'ERR_LANE_CANCELLED' } });
    expect(replies.slice(1).map((r) => r.body.status)).toEqual(['completed', 'completed', 'completed']);
    expect(log.map((entry) => entry.msg)).toContain('shut down');
  });

  it('refuses an invalid flag or environment value at start with exit code 2', async () => {
    const run = (args: string[], env: Record<string, string> = {}) => new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [BIN, 'serve', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr!.on('data', (chunk) => (stderr += chunk));
      child.on('exit', (code) => resolve({ code, stderr }));
    });
    const badFlag = await run(['--port', '99999']);
    expect(badFlag.code).toBe(2);
    expect(badFlag.stderr).toContain('invalid --port (LANEPOOL_PORT)');
    const badEnv = await run([], { LANEPOOL_TASK_TIMEOUT_MS: 'soon' });
    expect(badEnv.code).toBe(2);
    expect(badEnv.stderr).toContain('invalid --task-timeout-ms (LANEPOOL_TASK_TIMEOUT_MS)');
  });
});
