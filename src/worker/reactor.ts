/**
 * The service's pool handler: runs provider intents for the threads routed to this worker.
 *
 * Session state lives here, in the worker that owns the thread. Shard affinity plus per-thread lanes
 * make that safe without locks: only this worker's thread touches `threads`, and a thread's normal
 * intents run one at a time. Two things can overlap one thread's work, and both are handled by the
 * thread's `generation`: a control intent (stop, interrupt) running beside a turn, and a session
 * start that was cancelled or timed out but is still running, abandoned. A start that finishes
 * under an older generation never installs its session; it is stopped as an orphan instead.
 */
import { LaneCancelledError, NoSessionError } from '../shared/errors.ts';
import type { Handler, HandlerInit } from '../shared/handler.ts';
import { DEFAULT_RUNTIME_MODE, GATE_REFUSED, type Intent, type ReactorTask, type Simulate, type ThreadView } from '../shared/intents.ts';
import type { Provider, ProviderSession, ReactorData } from '../shared/provider.ts';
import { loadProvider } from './load-provider.ts';
import { createSimulator } from './simulator.ts';

interface ThreadState {
  session: (ProviderSession & { runtimeMode: string }) | null;
  /** Set while a session start is in progress, for describe. */
  starting: { runtimeMode: string } | null;
  /** The mode the next turn runs in. */
  runtimeMode: string;
  /** Where a restarted session resumes from. */
  cursor: string | undefined;
  /** Bumped by stop: work begun under an older generation must not touch the session. */
  generation: number;
}

let provider: Provider;
const threads = new Map<string, ThreadState>();

export const init: HandlerInit<ReactorData> = async (data, { shard }) => {
  provider = data.provider ? await loadProvider(data.provider, shard) : createSimulator(data.simulator);
};

const reactor: Handler<ReactorTask, unknown> = async (task, { key, signal, attempt }) => {
  if (task.type === 'lanepool.thread.describe') return describe(key);
  try {
    if (task.startGate) {
      await gateOpened(new Int32Array(task.startGate), signal, key);
      // Cancelled while the gate opened (the partition was given up): the provider must not see it.
      signal.throwIfAborted();
    }
    return await run(task, key, { signal, intentId: task.intentId, attempt });
  } finally {
    prune(key);
  }
};
export default reactor;

/** What every provider call of one intent carries. */
interface CallBase {
  signal: AbortSignal;
  intentId: string;
  attempt: number;
}

async function run(intent: Intent, key: string, call: CallBase): Promise<unknown> {
  switch (intent.type) {
    case 'thread.turn.start': {
      const { input, runtimeMode, simulate } = intent.payload;
      const thread = ensureThread(key);
      if (runtimeMode !== undefined) thread.runtimeMode = runtimeMode;
      const { session, restarted } = await ensureSession(key, thread, call, simulate);
      const turn = await provider.sendTurn(session, { ...call, input, simulate });
      if (turn.cursor !== undefined) thread.cursor = session.cursor = turn.cursor;
      return { sessionId: session.sessionId, turnId: turn.turnId, cursor: thread.cursor, restarted, output: turn.output };
    }
    case 'thread.turn.interrupt': {
      const session = liveSession(key, intent.type);
      return provider.interruptTurn(session, { ...intent.payload, ...call });
    }
    case 'thread.approval.respond': {
      const session = liveSession(key, intent.type);
      return provider.respondToApproval(session, { ...intent.payload, ...call });
    }
    case 'thread.user-input.respond': {
      const session = liveSession(key, intent.type);
      return provider.respondToUserInput(session, { ...intent.payload, ...call });
    }
    case 'thread.session.stop': {
      const thread = threads.get(key);
      if (thread === undefined) return { stopped: false };
      // Drop the state first: an abandoned start finishing later sees a new generation and backs off.
      thread.generation++;
      threads.delete(key);
      const wasStarting = thread.starting !== null;
      if (thread.session === null) return { stopped: false, wasStarting };
      await provider.stopSession(thread.session, { ...call, simulate: intent.payload.simulate });
      return { stopped: true, sessionId: thread.session.sessionId, wasStarting };
    }
    case 'thread.runtime-mode.set': {
      const thread = ensureThread(key);
      thread.runtimeMode = intent.payload.mode;
      return { runtimeMode: thread.runtimeMode, restartsOnNextTurn: thread.session !== null && thread.session.runtimeMode !== thread.runtimeMode };
    }
  }
}

/** Starts a session if the thread has none or its runtime mode changed, resuming from the last cursor. */
async function ensureSession(key: string, thread: ThreadState, call: CallBase, simulate: Simulate | undefined) {
  const { signal } = call;
  const mode = thread.runtimeMode;
  if (thread.session !== null && thread.session.runtimeMode === mode) return { session: thread.session, restarted: false };
  let restarted = false;
  if (thread.session !== null) {
    const old = thread.session;
    thread.session = null;
    await provider.stopSession(old, call);
    restarted = true;
  }
  const generation = thread.generation;
  // A token, not a flag: an abandoned earlier start finishing now must not clear a newer one's marker.
  const starting = { runtimeMode: mode };
  thread.starting = starting;
  let started: ProviderSession;
  try {
    started = await provider.startSession({ ...call, threadId: key, runtimeMode: mode, resumeCursor: thread.cursor, simulate });
  } finally {
    if (thread.starting === starting) thread.starting = null;
  }
  if (thread.generation !== generation || threads.get(key) !== thread || signal.aborted) {
    // Stopped or released while starting: nobody will use this session, so close it in the background.
    provider.stopSession(started, { ...call, signal: AbortSignal.timeout(30_000) }).catch(() => {});
    throw signal.aborted ? signal.reason : new Error('the session was stopped while it was starting');
  }
  thread.session = { ...started, runtimeMode: mode };
  return { session: thread.session, restarted };
}

function liveSession(key: string, intent: string): ProviderSession {
  const session = threads.get(key)?.session;
  if (!session) throw new NoSessionError({ key, intent });
  return session;
}

function ensureThread(key: string): ThreadState {
  let thread = threads.get(key);
  if (thread === undefined) {
    thread = { session: null, starting: null, runtimeMode: DEFAULT_RUNTIME_MODE, cursor: undefined, generation: 0 };
    threads.set(key, thread);
  }
  return thread;
}

/**
 * Waits until the main thread has recorded the start (see GatedIntent), or the intent is cancelled.
 * @throws LaneCancelledError if the start was refused (fenced): the provider must not be called.
 */
async function gateOpened(gate: Int32Array, signal: AbortSignal, key: string): Promise<void> {
  while (Atomics.load(gate, 0) === 0) {
    signal.throwIfAborted();
    const wait = Atomics.waitAsync(gate, 0, 0, 100);
    if (wait.async) await wait.value;
  }
  if (Atomics.load(gate, 0) === GATE_REFUSED) throw new LaneCancelledError({ key, reason: 'start refused: the partition is no longer held here' });
}

/** Keeps `threads` bounded by real state: a thread with nothing worth remembering is dropped. */
function prune(key: string): void {
  const thread = threads.get(key);
  if (thread && thread.session === null && thread.starting === null && thread.runtimeMode === DEFAULT_RUNTIME_MODE && thread.cursor === undefined) {
    threads.delete(key);
  }
}

function describe(key: string): ThreadView {
  const thread = threads.get(key);
  if (thread === undefined) return { session: null, runtimeMode: DEFAULT_RUNTIME_MODE };
  const { session, starting, runtimeMode } = thread;
  if (session !== null) {
    return { runtimeMode, session: { status: 'ready', sessionId: session.sessionId, runtimeMode: session.runtimeMode, ...(session.cursor ? { cursor: session.cursor } : {}) } };
  }
  return { runtimeMode, session: starting ? { status: 'starting', runtimeMode: starting.runtimeMode } : null };
}
