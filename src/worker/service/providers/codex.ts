/**
 * `--provider codex`: one `codex app-server` process per thread session, spawned by the worker that
 * owns the thread, spoken to in JSONL JSON-RPC over its stdio (json-rpc.ts).
 *
 *   startSession   spawn ─► initialize ─► initialized ─► thread/start (or thread/resume <cursor>)
 *   sendTurn       turn/start ─► turn/started, item/*, deltas, error ... ─► turn/completed
 *   interruptTurn  turn/interrupt ─► (the running sendTurn ends with turn/completed, interrupted)
 *   approvals      the server's requests, answered by respondToApproval / respondToUserInput
 *   stopSession    SIGTERM, then SIGKILL after --agent-stop-grace-ms
 *
 * The session's cursor is the Codex thread id. Every notification of a running call becomes a
 * provider event (`call.emit`): its method with `/` as `.` and camelCase as kebab-case
 * (`item/agentMessage/delta` → `item.agent-message.delta`), its params as `data`.
 *
 * Invariant: a session is touched only from this worker's thread; `#sessions` holds the live ones.
 */
import { randomUUID } from 'node:crypto';
import { ProviderError } from '../../../shared/errors.ts';
import type { AgentSettings, Provider, ProviderEvent, ProviderSession, TurnStatus } from '../../../shared/service/provider.ts';
import { resolveWorkspaceCwd } from '../../../shared/service/workspace.ts';
import { AgentLauncher, findProgram, type AgentProcess } from '../agent-process.ts';
import { JsonRpcConnection, RpcError, type RpcId } from './json-rpc.ts';

/**
 * lanepool's runtime modes, as Codex's approval policy and sandbox (`thread/start`'s `approvalPolicy`
 * and `sandbox`). No mode gives the agent full access: the sandbox always bounds it to its cwd.
 */
export const CODEX_RUNTIME_MODES: Readonly<Record<string, { approvalPolicy: string; sandbox: string }>> = Object.freeze({
  /** The model asks when it needs to leave the sandbox; writes only in the session's cwd. */
  default: { approvalPolicy: 'on-request', sandbox: 'workspace-write' },
  /** Only known-safe reads run unasked; everything else is an approval request. */
  untrusted: { approvalPolicy: 'untrusted', sandbox: 'workspace-write' },
  /** Reads only; asks to do more. */
  'read-only': { approvalPolicy: 'on-request', sandbox: 'read-only' },
  /** Never asks: what the sandbox refuses fails, and the model is told. */
  auto: { approvalPolicy: 'never', sandbox: 'workspace-write' },
});

/** lanepool's approval decisions, as Codex's (`item/commandExecution/requestApproval`, `item/fileChange/requestApproval`). */
const DECISIONS: Readonly<Record<string, string>> = {
  accept: 'accept', 'accept-for-session': 'acceptForSession', decline: 'decline', cancel: 'cancel',
};

const APPROVAL_REQUESTS = new Set(['item/commandExecution/requestApproval', 'item/fileChange/requestApproval']);
const USER_INPUT_REQUESTS = new Set(['item/tool/requestUserInput']);

/** Who hears a session's notifications between calls: nobody. */
const NO_LISTENER = (): void => {};

/** Codex's "Server overloaded; retry later." */
const OVERLOADED = -32001;
const RETRIES = 5;
const FIRST_RETRY_MS = 50;
const MAX_RETRY_MS = 2_000;

interface PendingRequest {
  id: RpcId;
  kind: 'approval' | 'user-input';
}

interface RunningTurn {
  /** Known once turn/start answered (or turn/started came first). */
  id: string | undefined;
  emit(event: ProviderEvent): void;
  settle(status: TurnStatus, turn: unknown): void;
  fail(error: unknown): void;
  /** The agent messages completed in this turn, in order: the turn's `output.text`. */
  messages: string[];
  idKnown: Promise<void>;
  markIdKnown(): void;
}

interface CodexSession {
  id: string;
  agent: AgentProcess;
  rpc: JsonRpcConnection;
  threadId: string;
  /** Who hears notifications now: the start call, then each turn. */
  emit: (event: ProviderEvent) => void;
  turn: RunningTurn | undefined;
  requests: Map<string, PendingRequest>;
  /** startSession has returned it. */
  started: boolean;
  stopping: boolean;
}

export function createCodexProvider(settings: AgentSettings, info: { shard: number }): Provider {
  return new CodexProvider(settings, info.shard);
}

class CodexProvider implements Provider {
  readonly #settings: AgentSettings;
  readonly #launcher: AgentLauncher;
  readonly #sessions = new Map<string, CodexSession>();

  constructor(settings: AgentSettings, shard: number) {
    this.#settings = settings;
    // Refused when the worker loads the provider, so that the service does not start without Codex.
    if (settings.command[0] !== undefined && findProgram(settings.command[0]) === undefined) {
      throw new ProviderError({ operation: 'load', detail: `cannot find ${JSON.stringify(settings.command[0])} on PATH or in node_modules/.bin (install Codex: npm i -g @openai/codex)` });
    }
    this.#launcher = new AgentLauncher(settings, shard);
  }

  async startSession(request: Parameters<Provider['startSession']>[0]): Promise<ProviderSession> {
    const { signal, runtimeMode, resumeCursor } = request;
    const mode = CODEX_RUNTIME_MODES[runtimeMode];
    if (mode === undefined) {
      throw new ProviderError({ operation: 'start', detail: `unknown runtimeMode ${JSON.stringify(runtimeMode)} for --provider codex: use one of ${Object.keys(CODEX_RUNTIME_MODES).join(', ')}` });
    }
    const cwd = resolveWorkspaceCwd(this.#settings.workspaceRoot, request.cwd);
    if (!cwd.ok) throw new ProviderError({ operation: 'start', detail: cwd.reason });
    // From here to started(), an abort of the start (Stop, cancel, deadline) stops the process.
    const agent = await this.#launcher.spawn({ cwd: cwd.path, signal });
    const session: CodexSession = {
      id: randomUUID(), agent, threadId: '', emit: request.emit, turn: undefined, requests: new Map(), started: false, stopping: false,
      rpc: undefined as unknown as JsonRpcConnection,
    };
    session.rpc = new JsonRpcConnection(agent.stdout, agent.stdin, {
      notification: (method, params) => this.#notification(session, method, params),
      request: (id, method, params) => this.#serverRequest(session, id, method, params),
    });
    void agent.exited.then(() => {
      // Gone for good: isAlive() says so from now on, and the reactor drops the session.
      this.#sessions.delete(session.id);
      const error = session.stopping ? new ProviderError({ operation: 'turn', detail: 'the session was stopped' }) : agent.exitedError(session.threadId === '' ? 'start' : 'turn');
      session.rpc.close(error);
      session.turn?.fail(error);
    });
    try {
      await call(session.rpc, 'initialize', { clientInfo: { name: 'lanepool', title: 'lanepool', version: '1' } }, signal);
      session.rpc.notify('initialized');
      const config = { cwd: cwd.path, approvalPolicy: mode.approvalPolicy, sandbox: mode.sandbox };
      let result: unknown;
      if (resumeCursor !== undefined) {
        try {
          result = await call(session.rpc, 'thread/resume', { threadId: resumeCursor, ...config }, signal);
        } catch (error) {
          // A thread Codex no longer knows (its home was cleared): start afresh, and say so.
          if (!(error instanceof RpcError) || error.rpcCode === OVERLOADED) throw error;
          request.emit({ kind: 'session.resume-failed', data: { threadId: resumeCursor, message: error.message } });
        }
      }
      result ??= await call(session.rpc, 'thread/start', config, signal);
      const threadId = (result as { thread?: { id?: unknown } } | undefined)?.thread?.id;
      if (typeof threadId !== 'string') throw new ProviderError({ operation: 'start', detail: 'thread/start answered without thread.id' });
      session.threadId = threadId;
      agent.started();
    } catch (error) {
      await agent.stop();
      throw signal.aborted ? signal.reason : error;
    }
    session.emit = NO_LISTENER;
    session.started = true;
    this.#sessions.set(session.id, session);
    return { sessionId: session.id, cursor: session.threadId };
  }

  async sendTurn(handle: ProviderSession, request: Parameters<Provider['sendTurn']>[1]): Promise<{ turnId: string; status: TurnStatus; cursor: string; output: unknown }> {
    const session = this.#live(handle, 'turn');
    if (session.turn !== undefined) throw new ProviderError({ operation: 'turn', detail: 'a turn is already running on this session' });
    const { signal } = request;
    let markIdKnown!: () => void;
    const idKnown = new Promise<void>((resolve) => (markIdKnown = resolve));
    const ended = new Promise<{ status: TurnStatus; turn: unknown }>((resolve, reject) => {
      session.turn = {
        id: undefined, emit: request.emit, messages: [], idKnown, markIdKnown,
        settle: (status, turn) => resolve({ status, turn }),
        fail: reject,
      };
    });
    // Failed before anyone awaits it (aborted or exited during turn/start): handled below, never unhandled.
    ended.catch(() => {});
    const turn = session.turn!;
    session.emit = request.emit;
    // Cancelled or past its deadline: the intent is over, so the agent's turn should be too.
    const onAbort = (): void => {
      if (turn.id !== undefined) session.rpc.request('turn/interrupt', { threadId: session.threadId, turnId: turn.id }).catch(() => {});
      turn.fail(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      const started = await call(session.rpc, 'turn/start', { threadId: session.threadId, input: [{ type: 'text', text: request.input }] }, signal);
      const id = (started as { turn?: { id?: unknown } } | undefined)?.turn?.id;
      if (typeof id === 'string') turn.id ??= id;
      turn.markIdKnown();
      const { status, turn: final } = await ended;
      const error = (final as { error?: unknown } | undefined)?.error ?? undefined;
      return {
        turnId: turn.id ?? '', status, cursor: session.threadId,
        output: { text: turn.messages.join('\n'), ...(error ? { error } : {}) },
      };
    } finally {
      signal.removeEventListener('abort', onAbort);
      if (session.turn === turn) session.turn = undefined;
      session.emit = NO_LISTENER;
      // An interrupt waiting for the turn's id must not wait past the turn itself.
      turn.markIdKnown();
    }
  }

  async interruptTurn(handle: ProviderSession, request: Parameters<Provider['interruptTurn']>[1]): Promise<{ interrupted: boolean }> {
    const session = this.#live(handle, 'interrupt');
    const turn = session.turn;
    if (turn === undefined) return { interrupted: false };
    // Interrupt as soon as Codex has named the turn (its turn/start answer may still be on the way).
    await Promise.race([turn.idKnown, new Promise((_, reject) => request.signal.addEventListener('abort', () => reject(request.signal.reason), { once: true }))]);
    const turnId = request.turnId ?? turn.id;
    if (turnId === undefined) return { interrupted: false };
    await call(session.rpc, 'turn/interrupt', { threadId: session.threadId, turnId }, request.signal);
    return { interrupted: true };
  }

  async respondToApproval(handle: ProviderSession, request: Parameters<Provider['respondToApproval']>[1]): Promise<unknown> {
    const session = this.#live(handle, 'approval');
    const pending = this.#take(session, request.requestId, 'approval');
    const decision = DECISIONS[request.decision];
    if (decision === undefined) throw new ProviderError({ operation: 'approval', detail: `unknown decision ${JSON.stringify(request.decision)}` });
    session.rpc.respond(pending.id, { decision });
    return { requestId: request.requestId, decision };
  }

  async respondToUserInput(handle: ProviderSession, request: Parameters<Provider['respondToUserInput']>[1]): Promise<unknown> {
    const session = this.#live(handle, 'user-input');
    const pending = this.#take(session, request.requestId, 'user-input');
    const answers: Record<string, { answers: string[] }> = {};
    for (const [question, value] of Object.entries(request.answers)) answers[question] = { answers: answerList(question, value) };
    session.rpc.respond(pending.id, { answers });
    return { requestId: request.requestId, answered: Object.keys(answers) };
  }

  async stopSession(handle: ProviderSession): Promise<void> {
    const session = this.#sessions.get(handle.sessionId);
    if (session === undefined) return;
    this.#sessions.delete(handle.sessionId);
    session.stopping = true;
    await session.agent.stop();
  }

  isAlive(handle: ProviderSession): boolean {
    return this.#sessions.get(handle.sessionId)?.agent.alive ?? false;
  }

  #live(handle: ProviderSession, operation: string): CodexSession {
    const session = this.#sessions.get(handle.sessionId);
    if (session === undefined) throw new ProviderError({ operation, detail: `no codex session ${handle.sessionId}` });
    if (!session.agent.alive) throw session.agent.exitedError(operation);
    return session;
  }

  #take(session: CodexSession, requestId: string, kind: PendingRequest['kind']): PendingRequest {
    const pending = session.requests.get(requestId);
    if (pending === undefined || pending.kind !== kind) {
      throw new ProviderError({ operation: kind, detail: `no pending ${kind} request ${JSON.stringify(requestId)} on this session (answered already, or cleared when its turn ended)` });
    }
    session.requests.delete(requestId);
    return pending;
  }

  #notification(session: CodexSession, method: string, params: unknown): void {
    const turn = session.turn;
    const p = (params ?? {}) as { turnId?: unknown; turn?: { id?: unknown; status?: unknown }; item?: { type?: unknown; text?: unknown }; requestId?: unknown };
    const turnId = typeof p.turnId === 'string' ? p.turnId : typeof p.turn?.id === 'string' ? p.turn.id : turn?.id;
    if (method === 'turn/started' && turn !== undefined && typeof p.turn?.id === 'string') {
      turn.id ??= p.turn.id;
      turn.markIdKnown();
    }
    // Codex sends thread/started just after its thread/start answer: by then the start has returned, and
    // the event would land in the thread's next turn. The start's result (the cursor) already said it.
    if (method === 'thread/started' && session.started) return;
    if (method === 'serverRequest/resolved') {
      for (const [requestId, pending] of session.requests) if (pending.id === p.requestId) session.requests.delete(requestId);
    }
    session.emit({ kind: eventKind(method), ...(turnId !== undefined ? { turnId } : {}), data: params });
    if (turn === undefined) return;
    if (method === 'item/completed' && p.item?.type === 'agentMessage' && typeof p.item.text === 'string') turn.messages.push(p.item.text);
    if (method === 'turn/completed' && (turn.id === undefined || p.turn?.id === turn.id)) {
      session.requests.clear();
      turn.settle(turnStatus(p.turn?.status), p.turn);
    }
  }

  #serverRequest(session: CodexSession, id: RpcId, method: string, params: unknown): void {
    const kind = APPROVAL_REQUESTS.has(method) ? 'approval' : USER_INPUT_REQUESTS.has(method) ? 'user-input' : undefined;
    if (kind === undefined) {
      session.rpc.respondError(id, -32601, `lanepool does not handle ${method}`);
      session.emit({ kind: 'request.unsupported', data: { method, params } });
      return;
    }
    const requestId = String(id);
    session.requests.set(requestId, { id, kind });
    const turnId = (params as { turnId?: unknown } | undefined)?.turnId;
    session.emit({
      kind: kind === 'approval' ? 'approval.requested' : 'user-input.requested', requestId,
      ...(typeof turnId === 'string' ? { turnId } : {}), data: { method, params },
    });
  }
}

/**
 * A request, retried with exponential backoff and jitter while Codex answers -32001 (overloaded),
 * at most `RETRIES` times; any other failure becomes a ProviderError naming the method.
 */
async function call(rpc: JsonRpcConnection, method: string, params: unknown, signal: AbortSignal): Promise<unknown> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await rpc.request(method, params, signal);
    } catch (error) {
      if (!(error instanceof RpcError)) throw error;
      if (error.rpcCode !== OVERLOADED || attempt > RETRIES) {
        const detail = error.rpcCode === OVERLOADED ? `${error.message}, still after ${RETRIES} retries` : error.message;
        throw Object.assign(new ProviderError({ operation: method, detail }), { rpcCode: error.rpcCode });
      }
      const delay = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2);
      await sleep(delay, signal);
    }
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => (signal.removeEventListener('abort', onAbort), resolve()), ms);
    const onAbort = (): void => (clearTimeout(timer), reject(signal.reason));
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

function eventKind(method: string): string {
  return method.split('/').map((part) => part.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)).join('.');
}

function turnStatus(status: unknown): TurnStatus {
  return status === 'interrupted' ? 'interrupted' : status === 'failed' ? 'failed' : 'completed';
}

/** One answer as Codex wants it (a list of strings): a string, a list of strings, or `{ answers: [...] }`. */
function answerList(question: string, value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value;
  const nested = (value as { answers?: unknown } | null)?.answers;
  if (Array.isArray(nested) && nested.every((v) => typeof v === 'string')) return nested;
  throw new ProviderError({ operation: 'user-input', detail: `the answer to ${JSON.stringify(question)} must be a string, a list of strings, or { answers: [...] }` });
}
