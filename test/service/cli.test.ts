import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../../src/main/service/bin.mjs', import.meta.url));
const BROKEN = fileURLToPath(new URL('../fixtures/broken.mjs', import.meta.url));
const BAD_PROVIDER = fileURLToPath(new URL('../fixtures/bad-provider.mjs', import.meta.url));

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk) => (stdout += chunk));
    child.stderr!.on('data', (chunk) => (stderr += chunk));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('the lanepool command', () => {
  it('prints package.json\'s version for --version', async () => {
    const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    for (const args of [['--version'], ['-v'], ['serve', '--version']]) {
      const result = await run(args);
      expect(result.code).toBe(0);
      expect(result.stdout.trim()).toBe(version);
    }
  });

  it('exits 2 for a --handler module that does not load, naming the module and not the reactor', async () => {
    for (const module of [BROKEN, BAD_PROVIDER]) {
      const result = await run(['serve', '--port', '0', '--shards', '1', '--log-level', 'silent', '--handler', module]);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('invalid --handler (LANEPOOL_HANDLER)');
      expect(result.stderr).toContain(module);
      expect(result.stderr).not.toContain('reactor.ts');
    }
  });

  it('exits 2 for a --host that is no address of this machine', async () => {
    for (const host of ['192.0.2.1', 'no-such-host.invalid']) {
      const result = await run(['serve', '--port', '0', '--shards', '1', '--log-level', 'silent', '--host', host]);
      expect(result.code, host).toBe(2);
      expect(result.stderr).toContain('invalid --host (LANEPOOL_HOST)');
    }
  });

  it('says what is wrong with a negative number given as a separate argument', async () => {
    const result = await run(['serve', '--grace-ms', '-1']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('invalid --grace-ms (LANEPOOL_GRACE_MS): must be >= 0, got -1');
    expect(result.stderr).not.toContain('ambiguous');
  });

  it('exits at once with 130 on a second SIGINT during a shutdown that would wait out its grace period', async () => {
    const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--shards', '1', '--grace-ms', '600000'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const lines = createInterface({ input: child.stdout! });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    let draining!: () => void;
    const drainingLogged = new Promise<void>((resolve) => (draining = resolve));
    const url = await new Promise<string>((resolve, reject) => {
      void exited.then((code) => reject(new Error(`exited early with ${code}`)));
      lines.on('line', (line) => {
        const entry = JSON.parse(line) as { msg: string; url?: string };
        if (entry.msg === 'lanepool service listening') resolve(entry.url!);
        if (entry.msg === 'shutting down: draining') draining();
      });
    });
    // A start that hangs forever keeps the drain waiting for the whole grace period.
    const accepted = await request(`${url}/v1/threads/h2/intents`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'thread.turn.start', payload: { input: 'x', simulate: { startHangMs: 'forever' } } }),
    });
    expect(accepted.statusCode).toBe(202);
    await accepted.body.dump();
    child.kill('SIGINT');
    await drainingLogged;
    child.kill('SIGINT');
    expect(await exited).toBe(130);
  });
});
