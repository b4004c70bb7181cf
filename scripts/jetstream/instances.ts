/**
 * Service instances as real child processes (`node src/main/service/bin.mjs serve ...`), so a test or a
 * figure script can SIGKILL or SIGSTOP one. Each is ready when it logs its URL.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../src/main/service/bin.mjs', import.meta.url));

export interface Instance {
  readonly id: string;
  readonly url: string;
  readonly pid: number;
  readonly process: ChildProcess;
  /** SIGKILL: no shutdown, no lease release, no acks. Resolves when the process is gone. */
  kill(): Promise<void>;
  /** SIGTERM: the graceful shutdown (partitions handed over). Resolves with the exit code. */
  stop(): Promise<number | null>;
  /** SIGSTOP: the whole process (its workers too) freezes, holding its leases, sockets and timers. */
  pause(): void;
  /** SIGCONT after `pause`: timers due meanwhile fire late, behind the I/O that piled up. */
  resume(): void;
  /** Everything the instance wrote to stdout and stderr so far. */
  log(): string;
}

/** Starts `lanepool serve` with `flags` (e.g. ['--nats', url]) on a free loopback port. */
export async function startInstance(id: string, flags: string[], env: NodeJS.ProcessEnv = {}): Promise<Instance> {
  const named = flags.includes('--nats') ? ['--instance-id', id] : [];
  // Last, so it wins: readiness is read from the info-level "listening" line.
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', ...named, ...flags, '--log-level', 'info'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`instance ${id} did not start within 30 s:\n${output}`)), 30_000);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      const match = /"url":"(http:\/\/[^"]+)"[^\n]*lanepool service listening/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`instance ${id} exited with ${code} before it was ready:\n${output}`));
    });
  });
  const exited = new Promise<number | null>((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });
  return {
    id,
    url,
    pid: child.pid!,
    process: child,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
    pause: () => void child.kill('SIGSTOP'),
    resume: () => void child.kill('SIGCONT'),
    log: () => output,
  };
}
