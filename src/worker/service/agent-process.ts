/**
 * One coding-agent process (`codex app-server`, an ACP agent), as the worker that owns its thread
 * runs it: stdio pipes, a bounded tail of its stderr, a stop that cannot hang, and exit detection.
 * Generic: the codex and acp providers both start their agents through an `AgentLauncher`.
 *
 *   spawn ──► running ──stop()──► SIGTERM ──stopGraceMs──► SIGKILL ──► exited
 *                 └──────────── exits by itself (crash) ────────────────┘
 *
 * The agent runs in its own process group (`detached`), and every signal goes to the group: a
 * command the agent started (a shell, a test run) goes down with it. Every spawn and exit is
 * announced to the main thread (agent-announce.ts), which kills what a dead worker left behind.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, dirname, isAbsolute, join, resolve } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { BroadcastChannel, threadId } from 'node:worker_threads';
import { ProviderError, ProviderExitedError, messageOf } from '../../shared/errors.ts';
import type { AgentAnnouncement } from '../../shared/service/agent-announce.ts';

/** How much of an agent's stderr is kept (its tail), for the error that reports its exit. */
const STDERR_TAIL_BYTES = 16 * 1024;

export interface AgentExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface SpawnRequest {
  /** The agent's working directory (already checked to lie inside the workspace root). */
  cwd: string;
  /**
   * The start's signal: while the start is in progress (until `started()`), its abort stops the
   * process, so a cancelled or timed-out start leaves nothing running.
   */
  signal?: AbortSignal;
  env?: NodeJS.ProcessEnv;
}

/** Starts one worker's agent processes, all from one command line, and announces them. */
export class AgentLauncher {
  readonly #command: readonly string[];
  readonly #stopGraceMs: number;
  readonly #shard: number;
  readonly #channel: BroadcastChannel | undefined;
  /** The last spawn's turn: each spawn waits for it, then a turn of its own (see #nextSpawnTurn). */
  #spawnQueue: Promise<void> = Promise.resolve();

  constructor(settings: { command: readonly string[]; stopGraceMs: number; registry?: string }, shard: number) {
    if (settings.command.length === 0) throw new ProviderError({ operation: 'start', detail: 'the agent command is empty' });
    this.#command = settings.command;
    this.#stopGraceMs = settings.stopGraceMs;
    this.#shard = shard;
    if (settings.registry !== undefined) {
      this.#channel = new BroadcastChannel(settings.registry);
      // Posting only: the channel must not keep the worker alive.
      (this.#channel as unknown as { unref(): void }).unref();
    }
    this.#announce({ event: 'hello', worker: threadId, shard });
  }

  /**
   * Spawns the agent in `cwd`.
   * @throws ProviderError when the program cannot be found or started.
   */
  async spawn(request: SpawnRequest): Promise<AgentProcess> {
    request.signal?.throwIfAborted();
    await this.#nextSpawnTurn();
    request.signal?.throwIfAborted();
    const [program, ...args] = this.#command;
    const path = findProgram(program!, request.env ?? process.env);
    if (path === undefined) {
      throw new ProviderError({ operation: 'start', detail: `cannot find ${JSON.stringify(program)} on PATH or in node_modules/.bin` });
    }
    const child = spawn(path, args, {
      cwd: request.cwd, env: request.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'], detached: true,
    });
    if (child.pid === undefined) {
      const error = await new Promise<unknown>((resolve) => child.once('error', resolve));
      throw new ProviderError({ operation: 'start', detail: `cannot start ${path}: ${messageOf(error)}` });
    }
    const agent = new AgentProcess(child, this.#stopGraceMs, request.signal);
    const { pid } = child;
    this.#announce({ event: 'spawned', worker: threadId, shard: this.#shard, pid });
    void agent.exited.then(() => this.#announce({ event: 'exited', worker: threadId, shard: this.#shard, pid }));
    return agent;
  }

  /**
   * Resolves in an event-loop turn of its own, one spawn per turn. `spawn()` blocks this thread until
   * the child has exec'd: tens of ms each, over 300 ms with dozens of agents booting on two cores. A
   * batch of session starts for many threads arrives in one turn, so spawning them all there blocked
   * the worker for seconds, long enough for the watchdog to replace it as stalled. One per turn lets
   * the heartbeat, and the other threads' work, run between spawns.
   */
  #nextSpawnTurn(): Promise<void> {
    const turn = this.#spawnQueue.then(() => new Promise<void>((resolve) => setImmediate(resolve)));
    this.#spawnQueue = turn;
    return turn;
  }

  #announce(message: AgentAnnouncement): void {
    this.#channel?.postMessage(message);
  }
}

export class AgentProcess {
  readonly pid: number;
  readonly stdin: Writable;
  readonly stdout: Readable;
  /** Resolves when the process has exited (never rejects). */
  readonly exited: Promise<AgentExit>;
  readonly #child: ChildProcessByStdio<Writable, Readable, Readable>;
  readonly #stopGraceMs: number;
  #exit: AgentExit | undefined;
  #stderr = '';
  #stopping: Promise<void> | undefined;
  #startSignal: { signal: AbortSignal; onAbort: () => void } | undefined;

  constructor(child: ChildProcessByStdio<Writable, Readable, Readable>, stopGraceMs: number, signal?: AbortSignal) {
    this.#child = child;
    this.pid = child.pid!;
    this.stdin = child.stdin;
    this.stdout = child.stdout;
    this.#stopGraceMs = stopGraceMs;
    // A write to an agent that just died fails with EPIPE: the exit reports it, not an unhandled 'error'.
    child.stdin.on('error', () => {});
    child.stdout.on('error', () => {});
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      this.#stderr += chunk;
      if (this.#stderr.length > STDERR_TAIL_BYTES) this.#stderr = this.#stderr.slice(-STDERR_TAIL_BYTES);
    });
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.#exit = { code, signal };
        this.#releaseStartSignal();
        resolve(this.#exit);
      });
    });
    if (signal !== undefined) {
      const onAbort = (): void => void this.stop();
      this.#startSignal = { signal, onAbort };
      signal.addEventListener('abort', onAbort, { once: true });
    }
  }

  /** False once the process has exited. */
  get alive(): boolean {
    return this.#exit === undefined;
  }

  /** How it exited; undefined while it runs. */
  get exit(): AgentExit | undefined {
    return this.#exit;
  }

  /** The last `STDERR_TAIL_BYTES` characters it wrote to stderr. */
  stderr(): string {
    return this.#stderr;
  }

  /** The start succeeded: its signal no longer stops the process (the session's stop does). */
  started(): void {
    this.#releaseStartSignal();
  }

  /** The error a call gets when the process has exited under it (or before it). */
  exitedError(operation: string): ProviderExitedError {
    const exit = this.#exit ?? { code: null, signal: null };
    return new ProviderExitedError({ operation, pid: this.pid, exitCode: exit.code, exitSignal: exit.signal, stderr: this.#stderr });
  }

  /**
   * SIGTERM to the process group, then SIGKILL after `stopGraceMs`; resolves once it has exited.
   * Idempotent, and never longer than the grace plus the time the OS takes to reap a killed process.
   */
  stop(): Promise<void> {
    return (this.#stopping ??= this.#stop());
  }

  async #stop(): Promise<void> {
    if (this.#exit !== undefined) return;
    this.stdin.end();
    this.#signal('SIGTERM');
    const timer = setTimeout(() => this.#signal('SIGKILL'), this.#stopGraceMs);
    try {
      await this.exited;
    } finally {
      clearTimeout(timer);
    }
    // The leader is gone; a member of its group that ignored SIGTERM is not.
    this.#signal('SIGKILL');
  }

  #signal(signal: NodeJS.Signals): void {
    try {
      process.kill(-this.pid, signal);
    } catch {
      // The group is gone already (ESRCH).
    }
  }

  #releaseStartSignal(): void {
    if (this.#startSignal === undefined) return;
    this.#startSignal.signal.removeEventListener('abort', this.#startSignal.onAbort);
    this.#startSignal = undefined;
  }
}

/**
 * The program's path: as given when it has a slash (relative to the current directory), else the
 * first match in a `node_modules/.bin` from the current directory upward (as npm scripts see it),
 * then on PATH. Undefined when there is none.
 */
export function findProgram(program: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (program.includes('/')) return isAbsolute(program) ? program : resolve(program);
  const dirs: string[] = [];
  for (let dir = process.cwd(); ; dir = dirname(dir)) {
    dirs.push(join(dir, 'node_modules', '.bin'));
    if (dirname(dir) === dir) break;
  }
  dirs.push(...(env.PATH ?? '').split(delimiter).filter((dir) => dir !== ''));
  for (const dir of dirs) {
    const path = join(dir, program);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // Not here.
    }
  }
  return undefined;
}
