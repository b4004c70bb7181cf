/**
 * The reactor's per-thread state in one worker, kept bounded: at most `maxPerWorker` live provider
 * sessions, none idle longer than `idleMs`, and at most `maxResumeCursors` evicted threads remembered.
 *
 *   threads (last use order):  [t9 idle 40 min] [t3 busy] [t7 idle 2 s] ... [t1 just used]
 *                                 ^ evicted first                              ^ evicted last
 *   resume cursors (last use order):  t4 -> { cursor, runtimeMode }, t8 -> ...
 *
 * Invariants:
 * - Only the worker's own thread touches the table, so it needs no locks.
 * - A thread is *busy* from `begin` to `end`: while any of its intents is inside the reactor's
 *   handler. A lane's queued intents always wait behind a running one, so a thread that is not busy
 *   has no running or queued intent in this worker. Only a thread that is not busy is evicted: eviction
 *   never races the thread's own work. (Between one intent ending and the next one of its lane
 *   starting, the thread is idle for a few microtasks; evicting it there is safe, the next intent just
 *   resumes from the cursor.)
 * - `#threads` is in last-use order: `begin`, `end` and a new thread all move it to the back with
 *   `lastUsed` = now. So the idle threads are in `lastUsed` order and the sweep stops at the first
 *   idle one that has not expired.
 * - `#sessions` counts the threads in `#threads` whose `session` is set; only `setSession` and the
 *   removals change either.
 *
 * Eviction bumps the thread's generation (as Stop does, so an abandoned start backs off), drops its
 * state, and keeps its cursor and runtime mode as a small *resume cursor* record, so its next turn
 * starts a new session that resumes where the old one was. The session itself is stopped in the
 * background by the `stop` callback; a new session of the thread waits for that (`stopped`).
 */
import { DEFAULT_RUNTIME_MODE } from '../../shared/service/intents.ts';
import type { ProviderSession, SessionLimits } from '../../shared/service/provider.ts';

export type LiveSession = ProviderSession & { runtimeMode: string };

export interface ThreadState {
  readonly key: string;
  session: LiveSession | null;
  /** Set while a session start is in progress, for describe. */
  starting: { runtimeMode: string } | null;
  /** The mode the next turn runs in. */
  runtimeMode: string;
  /** Where a restarted session resumes from. */
  cursor: string | undefined;
  /** Bumped by stop and eviction: work begun under an older generation must not touch the session. */
  generation: number;
  /** performance.now() at the thread's last begin or end. */
  lastUsed: number;
}

/** What an evicted thread keeps, so its next session resumes. */
interface ResumeCursor {
  cursor: string | undefined;
  runtimeMode: string;
}

export type EvictionReason = 'idle' | 'cap';

/** Stops an evicted session in the background; must never reject, and must settle in bounded time. */
export type StopEvicted = (key: string, session: LiveSession) => Promise<void>;

export class ThreadTable {
  readonly #limits: SessionLimits;
  readonly #stop: StopEvicted;
  readonly #threads = new Map<string, ThreadState>();
  readonly #resume = new Map<string, ResumeCursor>();
  /** Intents inside the handler, per thread; a key is present only while non-zero. */
  readonly #busy = new Map<string, number>();
  /** Background stops of evicted sessions, per thread, until they settle. */
  readonly #stopping = new Map<string, Promise<void>>();
  #sessions = 0;
  readonly #evicted: Record<EvictionReason, number> = { idle: 0, cap: 0 };

  constructor(limits: SessionLimits, stop: StopEvicted) {
    this.#limits = limits;
    this.#stop = stop;
  }

  get(key: string): ThreadState | undefined {
    return this.#threads.get(key);
  }

  /** The thread's state, created (from its resume cursor, if it has one) when it has none. */
  ensure(key: string): ThreadState {
    let thread = this.#threads.get(key);
    if (thread === undefined) {
      const resume = this.#resume.get(key);
      this.#resume.delete(key);
      thread = {
        key, session: null, starting: null, runtimeMode: resume?.runtimeMode ?? DEFAULT_RUNTIME_MODE, cursor: resume?.cursor,
        generation: 0, lastUsed: performance.now(),
      };
      this.#threads.set(key, thread);
    }
    return thread;
  }

  /** What an evicted thread kept (its cursor and runtime mode), while it has no state here. */
  resumeCursor(key: string): Readonly<ResumeCursor> | undefined {
    return this.#resume.get(key);
  }

  /** Installs or clears the thread's session; the only way to set `session` on a thread in the table. */
  setSession(thread: ThreadState, session: LiveSession | null): void {
    if (this.#threads.get(thread.key) !== thread) throw new Error(`thread ${thread.key} is not in the table`);
    if (thread.session !== null) this.#sessions--;
    thread.session = session;
    if (session !== null) this.#sessions++;
  }

  /** Stop: forgets the thread entirely, resume cursor included, and bumps its generation. */
  remove(key: string): ThreadState | undefined {
    this.#resume.delete(key);
    const thread = this.#threads.get(key);
    if (thread === undefined) return undefined;
    thread.generation++;
    this.#threads.delete(key);
    if (thread.session !== null) this.#sessions--;
    return thread;
  }

  /** An intent of `key` entered the handler. */
  begin(key: string): void {
    this.#busy.set(key, (this.#busy.get(key) ?? 0) + 1);
    this.#touch(key);
  }

  /** An intent of `key` left the handler: drops the thread if it holds nothing, then enforces the cap. */
  end(key: string): void {
    const left = (this.#busy.get(key) ?? 1) - 1;
    if (left > 0) this.#busy.set(key, left);
    else this.#busy.delete(key);
    const thread = this.#threads.get(key);
    if (thread !== undefined && left === 0 && isEmpty(thread)) this.#threads.delete(key);
    else this.#touch(key);
    this.#shed(this.#limits.maxPerWorker);
  }

  /** Before a session start: evicts idle sessions until there is room for one more. */
  makeRoom(): void {
    this.#shed(this.#limits.maxPerWorker - 1);
  }

  /** Resolves once the thread's evicted session, if any, has been stopped (or given up on). */
  stopped(key: string): Promise<void> | undefined {
    return this.#stopping.get(key);
  }

  /** Evicts every idle thread unused for `idleMs`. Cheap: stops at the first idle thread that is younger. */
  sweep(now = performance.now()): void {
    if (this.#limits.idleMs === 0) return;
    for (const thread of this.#threads.values()) {
      if (this.#busy.has(thread.key)) continue;
      if (now - thread.lastUsed < this.#limits.idleMs) return;
      this.#evict(thread, 'idle');
    }
  }

  stats(): { sessions: number; threads: number; resumeCursors: number; sessionsEvictedIdle: number; sessionsEvictedCap: number } {
    return {
      sessions: this.#sessions, threads: this.#threads.size, resumeCursors: this.#resume.size,
      sessionsEvictedIdle: this.#evicted.idle, sessionsEvictedCap: this.#evicted.cap,
    };
  }

  /** Evicts idle threads, least recently used first, until at most `limit` sessions are live or none is idle. */
  #shed(limit: number): void {
    if (this.#sessions <= limit) return;
    for (const thread of this.#threads.values()) {
      if (this.#sessions <= limit) return;
      if (!this.#busy.has(thread.key)) this.#evict(thread, 'cap');
    }
  }

  #evict(thread: ThreadState, reason: EvictionReason): void {
    const { key, session } = thread;
    this.remove(key);
    if (thread.cursor !== undefined || thread.runtimeMode !== DEFAULT_RUNTIME_MODE) this.#keepResumeCursor(key, thread);
    if (session === null) return;
    this.#evicted[reason]++;
    const stopping = this.#stop(key, session).finally(() => {
      if (this.#stopping.get(key) === stopping) this.#stopping.delete(key);
    });
    this.#stopping.set(key, stopping);
  }

  #keepResumeCursor(key: string, thread: ThreadState): void {
    if (this.#limits.maxResumeCursors === 0) return;
    this.#resume.set(key, { cursor: thread.cursor, runtimeMode: thread.runtimeMode });
    if (this.#resume.size > this.#limits.maxResumeCursors) this.#resume.delete(this.#resume.keys().next().value!);
  }

  #touch(key: string): void {
    const thread = this.#threads.get(key);
    if (thread === undefined) return;
    this.#threads.delete(key);
    thread.lastUsed = performance.now();
    this.#threads.set(key, thread);
  }
}

/** Nothing worth remembering: the thread is the same as one never seen. */
function isEmpty(thread: ThreadState): boolean {
  return thread.session === null && thread.starting === null && thread.runtimeMode === DEFAULT_RUNTIME_MODE && thread.cursor === undefined;
}
