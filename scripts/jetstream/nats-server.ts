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
  /** The running server process (a new one after `restart`). */
  readonly process: ChildProcess;
  /** Stops the server (SIGTERM) and starts it again on the same port and store, as an operator's restart would. */
  restart(): Promise<void>;
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
  let child = await launch(args);
  const exit = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  };
  return {
    url: `nats://127.0.0.1:${port}`,
    get process() {
      return child;
    },
    async restart() {
      await exit();
      child = await launch(args);
    },
    async stop() {
      await exit();
      rmSync(store, { recursive: true, force: true });
    },
  };
}

/** Starts nats-server with `args`; resolves once it says it is ready. */
async function launch(args: string[]): Promise<ChildProcess> {
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
  return child;
}
