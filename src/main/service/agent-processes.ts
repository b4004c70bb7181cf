/**
 * The main thread's list of every agent process the service's workers run (`--provider codex` or
 * `acp`), so that none outlives the worker that started it, nor the service.
 *
 * Workers announce themselves and their processes on a BroadcastChannel (agent-announce.ts). A
 * worker that is replaced (stall, crash, out of memory) cannot stop its processes any more: when its
 * shard leaves `ready`/`starting` for `recovering`, every worker known on that shard is marked dead and
 * its processes are stopped here (SIGTERM to the process group, SIGKILL after the grace); a `spawned`
 * that arrives from a dead worker later is stopped at once. `stop()` (the service's shutdown, after the
 * pool has closed) stops all of them, and a last-resort `exit` hook SIGKILLs what is left, synchronously.
 *
 * Invariant: only this object, on the main thread, touches `#processes` and `#dead`.
 *
 * A process killed here after its worker died has no parent left to reap it: it stays a zombie (state
 * `Z`, no memory, no CPU) until the service exits. `isRunning` counts a zombie as gone.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { BroadcastChannel } from 'node:worker_threads';
import type { AgentAnnouncement } from '../../shared/service/agent-announce.ts';
import type { ShardStateEvent } from '../shard.ts';

/** How often a stop checks whether the processes it signalled are gone. */
const POLL_MS = 20;

interface Owner {
  worker: number;
  shard: number;
}

/** What the registry needs from the pool: its shard state events. */
interface ShardStates {
  on(event: 'shardState', listener: (event: ShardStateEvent) => void): unknown;
  off(event: 'shardState', listener: (event: ShardStateEvent) => void): unknown;
}

export class AgentProcesses {
  /** The BroadcastChannel name to hand the workers (`AgentSettings.registry`). */
  readonly channelName = `lanepool:agents:${randomUUID()}`;
  readonly #channel = new BroadcastChannel(this.channelName);
  readonly #stopGraceMs: number;
  /** Live processes by pid. */
  readonly #processes = new Map<number, Owner>();
  /** Workers (threadIds) seen per shard; moved to `#dead` when their shard loses its worker. */
  readonly #workers = new Map<number, Set<number>>();
  readonly #dead = new Set<number>();
  readonly #onExit = (): void => this.#killAllNow();
  #pool: ShardStates | undefined;
  readonly #onShardState = (event: ShardStateEvent): void => {
    if (event.to === 'recovering' || event.to === 'failed') this.#workerGone(event.shard);
  };
  /** Processes killed because their worker died, since the service started. */
  orphansKilled = 0;

  constructor(options: { stopGraceMs: number }) {
    this.#stopGraceMs = options.stopGraceMs;
    this.#channel.onmessage = (message) => this.#announced((message as { data: AgentAnnouncement }).data);
    (this.#channel as unknown as { unref(): void }).unref();
    process.on('exit', this.#onExit);
  }

  /** Follows the pool's shard states from now on; call it right after the pool is made. */
  watch(pool: ShardStates): void {
    this.#pool = pool;
    pool.on('shardState', this.#onShardState);
  }

  /** The pids of the agent processes running now. */
  pids(): number[] {
    return [...this.#processes.keys()];
  }

  /**
   * Stops every process still known (the pool is closed, so nobody else will) and stops listening.
   * Resolves once they are gone, at most `stopGraceMs` plus one poll after the SIGTERM.
   */
  async stop(): Promise<void> {
    this.#pool?.off('shardState', this.#onShardState);
    this.#channel.close();
    const pids = this.pids();
    this.#processes.clear();
    await Promise.all(pids.map((pid) => stopGroup(pid, this.#stopGraceMs)));
    process.off('exit', this.#onExit);
  }

  #announced(message: AgentAnnouncement): void {
    const owner = { worker: message.worker, shard: message.shard };
    if (!this.#dead.has(owner.worker)) {
      let workers = this.#workers.get(owner.shard);
      if (workers === undefined) this.#workers.set(owner.shard, (workers = new Set()));
      workers.add(owner.worker);
    }
    switch (message.event) {
      case 'hello':
        return;
      case 'spawned':
        if (this.#dead.has(owner.worker)) {
          // Announced by a worker that has died since: nobody owns this process.
          this.orphansKilled++;
          void stopGroup(message.pid, this.#stopGraceMs);
        } else this.#processes.set(message.pid, owner);
        return;
      case 'exited':
        this.#processes.delete(message.pid);
    }
  }

  /** The shard's worker is gone (or going): its processes have no owner any more. */
  #workerGone(shard: number): void {
    const workers = this.#workers.get(shard);
    if (workers === undefined) return;
    this.#workers.delete(shard);
    for (const worker of workers) this.#dead.add(worker);
    for (const [pid, owner] of this.#processes) {
      if (owner.shard !== shard || !this.#dead.has(owner.worker)) continue;
      this.#processes.delete(pid);
      this.orphansKilled++;
      void stopGroup(pid, this.#stopGraceMs);
    }
  }

  #killAllNow(): void {
    for (const pid of this.#processes.keys()) signalGroup(pid, 'SIGKILL');
  }
}

/** SIGTERM to the process group led by `pid`, SIGKILL after `graceMs` if the leader still runs. */
async function stopGroup(pid: number, graceMs: number): Promise<void> {
  signalGroup(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (isRunning(pid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  // Also for a leader that is gone: a member of its group may have ignored SIGTERM.
  signalGroup(pid, 'SIGKILL');
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Gone already.
  }
}

/** True while `pid` runs: neither gone nor a zombie (read from /proc where there is one). */
export function isRunning(pid: number): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ENOENT' && procExists()) return false;
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  }
  // pid (comm) S ...: comm may hold spaces and parentheses, so the state follows the last ')'.
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state !== 'Z' && state !== 'X';
}

let hasProc: boolean | undefined;
function procExists(): boolean {
  if (hasProc === undefined) {
    try {
      readFileSync('/proc/self/stat');
      hasProc = true;
    } catch {
      hasProc = false;
    }
  }
  return hasProc;
}
