/**
 * A real `nats-server -js` for tests and scripts: a free loopback port, a temporary store directory,
 * ready once the server says so. `.ci/run` installs nats-server from Debian's packages.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface NatsServer {
  readonly url: string;
  readonly process: ChildProcess;
  stop(): Promise<void>;
}

export function natsServerAvailable(): boolean {
  return spawnSync('nats-server', ['--version']).status === 0;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface NatsServerOptions {
  /** The server's max_payload in bytes (a config-file setting); the server's default is 1 MiB. */
  maxPayload?: number;
}

export async function startNatsServer(options: NatsServerOptions = {}): Promise<NatsServer> {
  const port = await freePort();
  const store = mkdtempSync(join(tmpdir(), 'lanepool-nats-'));
  const args = ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', store];
  if (options.maxPayload !== undefined) {
    const config = join(store, 'nats.conf');
    writeFileSync(config, `max_payload: ${options.maxPayload}\n`);
    args.push('-c', config);
  }
  const child = spawn('nats-server', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`nats-server did not start within 15 s:\n${log}`)), 15_000);
    child.stderr!.on('data', (chunk: Buffer) => {
      log += chunk.toString();
      if (log.includes('Server is ready')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`nats-server exited with ${code}:\n${log}`));
    });
  });
  child.stderr!.resume();
  return {
    url: `nats://127.0.0.1:${port}`,
    process: child,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(store, { recursive: true, force: true });
    },
  };
}
