/**
 * The provider contract: what the reactor calls to drive a coding agent's sessions. The built-in
 * simulator implements it; `lanepool serve --handler PATH` loads your own.
 *
 * A provider module's default export is a `ProviderFactory`. It is called once per worker; every
 * session of the threads routed to that worker goes through the provider it returns, from that
 * worker's thread only, so a provider needs no locks.
 *
 * @example
 * // my-provider.ts
 * import type { ProviderFactory } from 'lanepool/service';
 * const create: ProviderFactory = ({ shard }) => ({
 *   async startSession({ threadId, runtimeMode, resumeCursor, signal }) { ... return { sessionId } },
 *   async sendTurn(session, { input, signal }) { ... return { turnId, cursor } },
 *   ...
 * });
 * export default create;
 */
import type { Simulate } from './intents.ts';

export interface ProviderSession {
  sessionId: string;
  /** Where a restarted session resumes from. */
  cursor?: string;
}

/**
 * One thing a provider reports while it serves a call: a turn's items and deltas, an error it is
 * retrying, a request the user must answer. The service streams it to the thread's subscribers
 * (`event: provider` on GET /v1/threads/:threadId/events), in emit order and before the intent settles.
 */
export interface ProviderEvent {
  /** What happened, e.g. `turn.started`, `item.completed`, `approval.requested`; each provider documents its kinds. */
  kind: string;
  /**
   * Set on a request the client must answer (`approval.requested`, `user-input.requested`): the
   * `requestId` that the matching `thread.approval.respond` or `thread.user-input.respond` intent carries.
   */
  requestId?: string;
  /** The turn it belongs to, when the provider knows it. */
  turnId?: string;
  /** The provider's own message, as received (JSON-compatible). */
  data?: unknown;
}

/** How a turn ended: `sendTurn` resolves only then, so the thread's next turn waits for it. */
export type TurnStatus = 'completed' | 'interrupted' | 'failed';

interface Call {
  signal: AbortSignal;
  /**
   * Streams an event to the thread's subscribers. Events of one call arrive in emit order, before the
   * intent settles; one emitted after the intent settled (cancelled, timed out) is dropped and counted.
   */
  emit(event: ProviderEvent): void;
  /** The intent this call serves; the same on every run of it, so a provider can deduplicate. */
  intentId: string;
  /** 1 on the first run of the intent; 2 when it runs again because its first run was cut short. */
  attempt: number;
  /** Test instructions from the intent's payload; the simulator obeys them, a real provider may ignore them. */
  simulate?: Simulate;
}

export interface Provider {
  /**
   * Starts (or, with `resumeCursor`, resumes) the thread's session. `cwd` is the intent's working
   * directory, already checked to lie inside `--workspace-root`; absent, the provider picks its own.
   * Must give up when `signal` fires (Stop, cancel, deadline), releasing what it holds (a process).
   */
  startSession(request: Call & { threadId: string; runtimeMode: string; resumeCursor?: string; cwd?: string }): Promise<ProviderSession>;
  /** Runs one turn and resolves when it has ended (`status`, `completed` when absent), streaming its events on the way. */
  sendTurn(session: ProviderSession, request: Call & { input: string }): Promise<{ turnId: string; status?: TurnStatus; cursor?: string; output?: unknown }>;
  interruptTurn(session: ProviderSession, request: Call & { turnId?: string }): Promise<{ interrupted: boolean }>;
  respondToApproval(session: ProviderSession, request: Call & { requestId: string; decision: string }): Promise<unknown>;
  respondToUserInput(session: ProviderSession, request: Call & { requestId: string; answers: Record<string, unknown> }): Promise<unknown>;
  stopSession(session: ProviderSession, request: Call): Promise<void>;
  /**
   * Optional: false once the session can no longer serve a turn (its agent process exited). The
   * reactor then drops it, and the thread's next turn starts a new session, resuming from its cursor.
   */
  isAlive?(session: ProviderSession): boolean;
}

export type ProviderFactory = (info: { shard: number }) => Provider | Promise<Provider>;

/** The simulator's per-operation latencies, in ms. */
export interface SimulatorSettings {
  startMs: number;
  sendMs: number;
  interruptMs: number;
  stopMs: number;
}

/** How many provider sessions one worker keeps, and for how long (see src/worker/service/thread-table.ts). */
export interface SessionLimits {
  /** Live sessions per worker; past it, the least recently used idle one is evicted. */
  maxPerWorker: number;
  /** An idle session is evicted after this many ms without an intent; 0 means never. */
  idleMs: number;
  /** Evicted threads whose resume cursor and runtime mode are kept (least recently used forgotten first). */
  maxResumeCursors: number;
}

/** A built-in provider that drives a real coding-agent process (`--provider codex` or `--provider acp`). */
export interface AgentSettings {
  protocol: 'codex' | 'acp';
  /** The agent's command line, split into program and arguments (`--codex-command`, `--agent-command`). */
  command: readonly string[];
  /** Absolute: every session's working directory lies inside it (`--workspace-root`). */
  workspaceRoot: string;
  /** Stop sends SIGTERM, then SIGKILL after this many ms (`--agent-stop-grace-ms`). */
  stopGraceMs: number;
  /**
   * The BroadcastChannel on which the workers announce their agent processes to the main thread
   * (see agent-announce.ts); the service names one per instance. Absent: nothing is announced.
   */
  registry?: string;
}

/** What the service hands each worker's reactor through `handlerData`. */
export interface ReactorData {
  /** file: URL of a provider module; the simulator when absent (and no `agent`). */
  provider?: string;
  /** A built-in agent provider; exclusive with `provider`. */
  agent?: AgentSettings;
  simulator: SimulatorSettings;
  sessions: SessionLimits;
  /** `--otlp-endpoint`: each worker exports its own spans there too. */
  otlpEndpoint?: string;
}

/** The reactor's gauges for one worker (its `stats` export, read by probes and /metrics). */
// A type, not an interface, so that it is a Record<string, number> (what a HandlerStats returns).
export type ReactorStats = {
  /** Threads with a live session. */
  sessions: number;
  /** Provider session starts in progress, including abandoned ones (cancelled or timed out). */
  sessionsStarting: number;
  /** Threads the worker holds state for (sessions, and threads between sessions). */
  threads: number;
  /** Evicted threads kept only as a resume cursor and runtime mode. */
  resumeCursors: number;
  /** Sessions evicted since the worker started, because they were idle past `idleMs`. */
  sessionsEvictedIdle: number;
  /** Sessions evicted since the worker started, to keep the worker within `maxPerWorker`. */
  sessionsEvictedCap: number;
  /** Background stops (evicted or orphaned sessions) that failed or did not finish in time. */
  sessionStopFailures: number;
};
