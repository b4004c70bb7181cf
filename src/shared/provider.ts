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

/** What the service hands each worker's reactor through `handlerData`. */
export interface ReactorData {
  /** file: URL of a provider module; the simulator when absent. */
  provider?: string;
  simulator: SimulatorSettings;
}
