/**
 * One Agent Client Protocol agent process, seen from the client side: the SDK's client connection over
 * the process's stdio (newline-delimited JSON-RPC), the one ACP session lanepool opens in it, and that
 * session's running turn and pending permission requests.
 *
 *   open():   initialize -> session/resume | session/load | session/new -> session/set_mode?
 *   prompt(): session/prompt ............................................ -> stopReason
 *                 <- session/update              (each one a provider event of the turn)
 *                 <- session/request_permission  (an `approval.requested` event, answered by respond())
 *             interrupt() -> session/cancel      (the prompt then ends with `cancelled`)
 *
 * Invariants: at most one turn runs (the thread's lane runs one turn at a time, and a turn first waits
 * for the prompt an abandoned turn left behind); an update or permission request is routed to the turn
 * running when it arrives, or dropped (answered `cancelled`) when none runs; every pending permission
 * request is answered exactly once, by respond(), by interrupt(), or when its turn ends.
 */
import { randomUUID } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import {
  client, ndJsonStream, PROTOCOL_VERSION, RequestError,
  type ClientCapabilities, type ClientConnection, type Implementation, type InitializeResponse, type LoadSessionRequest, type PermissionOption, type RequestPermissionOutcome,
  type RequestPermissionRequest, type RequestPermissionResponse, type SessionModeState, type SessionNotification,
} from '@agentclientprotocol/sdk';
import { messageOf, ProviderError } from '../../../shared/errors.ts';
import { within } from '../../../shared/within.ts';
import type { ProviderEvent, TurnStatus } from '../../../shared/service/provider.ts';
import { modeFor, pickOption, turnStatus } from './acp-mapping.ts';

/** What lanepool tells the agent it can do for it: nothing beyond permission requests (see the README). */
export const CLIENT_CAPABILITIES: ClientCapabilities = { fs: { readTextFile: false, writeTextFile: false }, terminal: false };
/** The client's name in `initialize`. */
const CLIENT_INFO: Implementation = { name: 'lanepool', version: '0.1.0' };
/** How long a request cut short by the connection's close waits for the process's exit, to report that. */
const EXIT_AFTER_CLOSE_MS = 2000;
/** The agent's text a turn's result keeps; the events carry all of it. */
export const MAX_OUTPUT_TEXT = 64 * 1024;

/** The agent process's side the session needs (an AgentProcess). */
export interface AgentPipes {
  stdin: Writable;
  stdout: Readable;
  /** Resolves once the process has exited. */
  exited: Promise<unknown>;
  /** The error a call the exit cut short (or came after it) rejects with. */
  exitedError(operation: string): Error;
}

/** What a call brings: its signal, and where its events go. */
interface CallLike {
  signal: AbortSignal;
  emit(event: ProviderEvent): void;
}

export interface OpenRequest extends CallLike {
  cwd: string;
  runtimeMode: string;
  resumeCursor?: string;
}

export interface TurnResult {
  turnId: string;
  status: TurnStatus;
  cursor: string;
  output: { stopReason: string; text: string; textTruncated?: true };
}

/** What `thread.approval.respond` settles with. */
export interface ApprovalAnswer {
  requestId: string;
  decision: string;
  matched: boolean;
  /** `selected` or `cancelled`: what the agent was told. */
  outcome?: string;
  optionId?: string;
  kind?: string;
}

interface Turn {
  turnId: string;
  call: CallLike;
  text: string;
  truncated: boolean;
}

interface PendingApproval {
  turn: Turn;
  options: PermissionOption[];
  answer(outcome: RequestPermissionOutcome): void;
}

export class AcpSession {
  readonly #connection: ClientConnection;
  readonly #pipes: AgentPipes;
  #gone = false;
  #acpSessionId = '';
  #turn: Turn | null = null;
  #turns = 0;
  /** The last prompt, settled or not: the next turn waits for it (an abandoned turn's agent may still be busy). */
  #lastPrompt: Promise<unknown> = Promise.resolve();
  readonly #approvals = new Map<string, PendingApproval>();

  constructor(pipes: AgentPipes) {
    this.#pipes = pipes;
    void pipes.exited.then(() => (this.#gone = true));
    const app = client({ name: 'lanepool' })
      .onNotification('session/update', ({ params }) => this.#onUpdate(params))
      .onRequest('session/request_permission', ({ params, signal }) => this.#onPermission(params, signal));
    this.#connection = app.connect(ndJsonStream(Writable.toWeb(pipes.stdin), Readable.toWeb(pipes.stdout) as ReadableStream<Uint8Array>));
    // The process is gone: nothing more will come, and pending requests must not wait on the pipes.
    void pipes.exited.then(() => this.#connection.close(pipes.exitedError('the connection')));
  }

  /** The ACP session id: also the resume cursor. */
  get acpSessionId(): string {
    return this.#acpSessionId;
  }

  /** False once the process exited or the connection closed: no call can be served any more. */
  get alive(): boolean {
    return !this.#gone && !this.#connection.signal.aborted;
  }

  /** Initializes the connection and opens the session: resumed from `resumeCursor` where the agent can, else new. */
  async open(request: OpenRequest): Promise<void> {
    const { cwd, runtimeMode, resumeCursor } = request;
    const init = await this.#request(request, 'initialize', () => this.#connection.agent.request('initialize', {
      protocolVersion: PROTOCOL_VERSION, clientCapabilities: CLIENT_CAPABILITIES, clientInfo: CLIENT_INFO,
    }));
    if (init.protocolVersion !== PROTOCOL_VERSION) {
      throw new ProviderError({ operation: 'start', detail: `the agent speaks ACP version ${init.protocolVersion}; lanepool speaks ${PROTOCOL_VERSION}` });
    }
    let opened: { how: 'new' | 'resume' | 'load'; modes: SessionModeState | null | undefined } | undefined;
    const how = resumeCursor === undefined ? undefined : resumeMethod(init);
    if (resumeCursor !== undefined && how !== undefined) {
      try {
        const params: LoadSessionRequest = { sessionId: resumeCursor, cwd, mcpServers: [] };
        const agent = this.#connection.agent;
        const answer: { modes?: SessionModeState | null } = await this.#request(request, how, async () => (
          (how === 'session/resume' ? await agent.request('session/resume', params) : await agent.request('session/load', params)) ?? {}
        ));
        this.#acpSessionId = resumeCursor;
        opened = { how: how === 'session/resume' ? 'resume' : 'load', modes: answer.modes };
      } catch (error) {
        // The agent no longer has that session (it answered, with an error): start a new one, and say so.
        if (!ANSWERED.has(error as Error)) throw error;
        emitTo(request, { kind: 'session.resume-failed', data: { cursor: resumeCursor, method: how, error: messageOf(error) } });
      }
    }
    if (opened === undefined) {
      const answer = await this.#request(request, 'session/new', () => this.#connection.agent.request('session/new', { cwd, mcpServers: [] }));
      this.#acpSessionId = answer.sessionId;
      opened = { how: 'new', modes: answer.modes };
    }
    const mode = await this.#applyMode(request, runtimeMode, opened.modes);
    emitTo(request, {
      kind: 'session.started',
      data: { acpSessionId: this.#acpSessionId, opened: opened.how, mode, runtimeMode, agentInfo: init.agentInfo ?? null, agentCapabilities: init.agentCapabilities ?? {} },
    });
  }

  /** Runs one prompt turn and resolves when the agent answered it; `signal` abandons it (after `session/cancel`). */
  async prompt(call: CallLike, input: string): Promise<TurnResult> {
    await this.#race(call.signal, this.#lastPrompt);
    const turn: Turn = { turnId: `turn-${++this.#turns}`, call, text: '', truncated: false };
    this.#turn = turn;
    const abandon = () => this.#cancel(turn);
    call.signal.addEventListener('abort', abandon, { once: true });
    try {
      emitTo(call, { kind: 'turn.started', turnId: turn.turnId });
      const prompt = this.#connection.agent.request('session/prompt', { sessionId: this.#acpSessionId, prompt: [{ type: 'text', text: input }] });
      this.#lastPrompt = prompt.catch(() => {});
      const answer = await this.#request(call, 'session/prompt', () => prompt);
      const status = turnStatus(answer.stopReason);
      emitTo(call, { kind: 'turn.completed', turnId: turn.turnId, data: { status, stopReason: answer.stopReason } });
      const output: TurnResult['output'] = { stopReason: answer.stopReason, text: turn.text, ...(turn.truncated ? { textTruncated: true as const } : {}) };
      return { turnId: turn.turnId, status, cursor: this.#acpSessionId, output };
    } finally {
      call.signal.removeEventListener('abort', abandon);
      this.#endTurn(turn);
    }
  }

  /** `session/cancel` for the running turn, whose prompt then ends with `cancelled`. False when no turn runs. */
  interrupt(): boolean {
    if (this.#turn === null) return false;
    this.#cancel(this.#turn);
    return true;
  }

  /**
   * Answers a pending permission request with the option `decision` maps to (see acp-mapping.ts).
   * `matched` is false when no request by that id is pending (answered already, or its turn ended).
   * @throws ProviderError when the decision allows and the agent offered no option it may take.
   */
  respond(requestId: string, decision: string): ApprovalAnswer {
    const pending = this.#approvals.get(requestId);
    if (pending === undefined) return { requestId, decision, matched: false };
    const pick = pickOption(decision, pending.options);
    if (!pick.ok) throw new ProviderError({ operation: 'approval', detail: pick.detail });
    this.#answer(requestId, pick.outcome);
    return { requestId, decision, matched: true, outcome: pick.outcome.outcome, ...(pick.option ? { optionId: pick.option.optionId, kind: pick.option.kind } : {}) };
  }

  /** Closes the connection (rejecting what is pending); the process is stopped by its owner. */
  close(): void {
    if (this.#turn !== null) this.#cancel(this.#turn);
    this.#connection.close();
  }

  #onUpdate(notification: SessionNotification): void {
    const turn = this.#turn;
    // Outside a turn (a load's replayed history, a late update of an abandoned turn): nobody to tell.
    if (turn === null || notification.sessionId !== this.#acpSessionId) return;
    const { update } = notification;
    if (update.sessionUpdate === 'agent_message_chunk' && update.content.type === 'text') appendText(turn, update.content.text);
    emitTo(turn.call, { kind: update.sessionUpdate, turnId: turn.turnId, data: update });
  }

  #onPermission(params: RequestPermissionRequest, signal: AbortSignal): Promise<RequestPermissionResponse> {
    const turn = this.#turn;
    if (turn === null || params.sessionId !== this.#acpSessionId) return Promise.resolve({ outcome: { outcome: 'cancelled' } });
    const requestId = randomUUID();
    return new Promise((resolve) => {
      const onAbort = () => this.#answer(requestId, { outcome: 'cancelled' });
      this.#approvals.set(requestId, {
        turn, options: params.options,
        answer: (outcome) => {
          signal.removeEventListener('abort', onAbort);
          resolve({ outcome });
        },
      });
      // The agent withdrew it ($/cancel_request), or the connection closed.
      signal.addEventListener('abort', onAbort, { once: true });
      // Nobody can answer a request nobody heard of: one whose event could not go is cancelled at once.
      if (signal.aborted || !emitTo(turn.call, { kind: 'approval.requested', requestId, turnId: turn.turnId, data: { toolCall: params.toolCall, options: params.options } })) onAbort();
    });
  }

  #answer(requestId: string, outcome: RequestPermissionOutcome): void {
    const pending = this.#approvals.get(requestId);
    if (pending === undefined) return;
    this.#approvals.delete(requestId);
    pending.answer(outcome);
    emitTo(pending.turn.call, { kind: 'approval.resolved', requestId, turnId: pending.turn.turnId, data: outcome });
  }

  /** ACP's cancel: the notification, and every pending permission request of the turn answered `cancelled`. */
  #cancel(turn: Turn): void {
    for (const [requestId, pending] of this.#approvals) if (pending.turn === turn) this.#answer(requestId, { outcome: 'cancelled' });
    if (this.alive) void this.#connection.agent.notify('session/cancel', { sessionId: this.#acpSessionId }).catch(() => {});
  }

  #endTurn(turn: Turn): void {
    for (const [requestId, pending] of this.#approvals) if (pending.turn === turn) this.#answer(requestId, { outcome: 'cancelled' });
    if (this.#turn === turn) this.#turn = null;
  }

  async #applyMode(call: CallLike, runtimeMode: string, modes: SessionModeState | null | undefined): Promise<string | null> {
    const modeId = modeFor(runtimeMode, modes);
    if (modeId === undefined) return modes?.currentModeId ?? null;
    if (modeId !== modes?.currentModeId) {
      const params = { sessionId: this.#acpSessionId, modeId };
      await this.#request(call, 'session/set_mode', () => this.#connection.agent.request('session/set_mode', params));
    }
    return modeId;
  }

  /**
   * One request to the agent, bounded by the call's signal and the process's life: it rejects with the
   * signal's reason, the process's exit error, or a ProviderError for the agent's error answer.
   */
  async #request<T>(call: CallLike, method: string, send: () => Promise<T>): Promise<T> {
    call.signal.throwIfAborted();
    if (this.#gone) throw this.#pipes.exitedError(method);
    try {
      return await this.#race(call.signal, send());
    } catch (error) {
      if (error instanceof RequestError) throw agentError(method, error);
      // Its stdout usually ends a moment before the exit is reported: wait for that, within a bound.
      if (this.#connection.signal.aborted && !this.#gone) await within(this.#pipes.exited, EXIT_AFTER_CLOSE_MS);
      if (this.#gone) throw this.#pipes.exitedError(method);
      if (this.#connection.signal.aborted) throw new ProviderError({ operation: method, detail: 'the agent closed its stdout (the connection) and did not exit' });
      throw error;
    }
  }

  /** `work`, or the signal's reason, or the process's exit error, whichever comes first. */
  #race<T>(signal: AbortSignal, work: Promise<T>): Promise<T> {
    let onAbort!: () => void;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(signal.reason);
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
    });
    const exited = this.#pipes.exited.then(() => Promise.reject(new Error('the agent exited')));
    return Promise.race([work, aborted, exited]).finally(() => signal.removeEventListener('abort', onAbort));
  }
}

/** Errors the agent answered with (as opposed to its exit, or a signal): a resume may fall back on them. */
const ANSWERED = new WeakSet<Error>();

/** The agent answered with a JSON-RPC error: ERR_PROVIDER, naming the method and the agent's code. */
function agentError(method: string, error: RequestError): ProviderError {
  const failure = new ProviderError({ operation: method, detail: `the agent answered ${method} with error ${error.code}: ${messageOf(error)}` });
  ANSWERED.add(failure);
  return failure;
}

/** How the agent lets a session be reopened: `session/resume` (no replay) before `session/load` (replays history). */
function resumeMethod(init: InitializeResponse): 'session/resume' | 'session/load' | undefined {
  if (init.agentCapabilities?.sessionCapabilities?.resume) return 'session/resume';
  if (init.agentCapabilities?.loadSession) return 'session/load';
  return undefined;
}

/**
 * Emits, and says whether the event went: an emit that throws (an event over the thread's byte bound)
 * must not break the connection handler it runs in. The event is replaced by a small `event.dropped`.
 */
function emitTo(call: CallLike, event: ProviderEvent): boolean {
  try {
    call.emit(event);
    return true;
  } catch (error) {
    try {
      call.emit({ kind: 'event.dropped', ...(event.turnId ? { turnId: event.turnId } : {}), data: { kind: event.kind, error: messageOf(error) } });
    } catch {
      // Not even that: nothing more to do.
    }
    return false;
  }
}

function appendText(turn: Turn, text: string): void {
  const room = MAX_OUTPUT_TEXT - turn.text.length;
  if (text.length > room) turn.truncated = true;
  turn.text += text.slice(0, Math.max(0, room));
}
