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

interface Call {
  signal: AbortSignal;
  /** The intent this call serves; the same on every run of it, so a provider can deduplicate. */
  intentId: string;
  /** 1 on the first run of the intent; 2 when it runs again because its first run was cut short. */
  attempt: number;
  /** Test instructions from the intent's payload; the simulator obeys them, a real provider may ignore them. */
  simulate?: Simulate;
}

export interface Provider {
  startSession(request: Call & { threadId: string; runtimeMode: string; resumeCursor?: string }): Promise<ProviderSession>;
  sendTurn(session: ProviderSession, request: Call & { input: string }): Promise<{ turnId: string; cursor?: string; output?: unknown }>;
  interruptTurn(session: ProviderSession, request: Call & { turnId?: string }): Promise<{ interrupted: boolean }>;
  respondToApproval(session: ProviderSession, request: Call & { requestId: string; decision: string }): Promise<unknown>;
  respondToUserInput(session: ProviderSession, request: Call & { requestId: string; answers: Record<string, unknown> }): Promise<unknown>;
  stopSession(session: ProviderSession, request: Call): Promise<void>;
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

/** What the service hands each worker's reactor through `handlerData`. */
export interface ReactorData {
  /** file: URL of a provider module; the simulator when absent. */
  provider?: string;
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
