/**
 * The service's pool handler: runs provider intents for the threads routed to this worker.
 *
 * Session state lives here, in the worker that owns the thread. Shard affinity plus per-thread lanes
 * make that safe without locks: only this worker's thread touches `threads`, and a thread's normal
 * intents run one at a time. Two things can overlap one thread's work, and both are handled by the
 * thread's `generation`: a control intent (stop, interrupt) running beside a turn, and a session
 * start that was cancelled or timed out but is still running, abandoned. A start that finishes
 * under an older generation never installs its session; it is stopped as an orphan instead.
 *
 * The thread table (thread-table.ts) keeps this bounded: idle sessions are evicted after an idle TTL
 * and past a per-worker cap, and stopped in the background here; eviction bumps the generation too.
 */
import { context } from '@opentelemetry/api';
import { NoSessionError } from '../../shared/errors.ts';
import type { Handler, HandlerInit, HandlerStats } from '../../shared/handler.ts';
import { startGateOpened } from '../../shared/start-gate.ts';
import { DEFAULT_RUNTIME_MODE, type Intent, type ReactorTask, type Simulate, type ThreadView } from '../../shared/service/intents.ts';
import type { Provider, ProviderEvent, ProviderSession, ReactorData, ReactorStats } from '../../shared/service/provider.ts';
import { startOtlpExport } from '../../shared/otlp-export.ts';
import { contextFrom } from '../../shared/trace-context.ts';
import { within } from '../../shared/within.ts';
import { createAgentProvider } from './agent-provider.ts';
import { loadProvider } from './load-provider.ts';
import { createSimulator } from './simulator.ts';
import { ThreadTable, type LiveSession, type ThreadState } from './thread-table.ts';

/** How long a stop the reactor makes on its own (an evicted or orphaned session) may take. */
const BACKGROUND_STOP_MS = 30_000;
/** The idle sweep runs every quarter of the idle TTL, within these bounds. */
const SWEEP_MIN_MS = 10;
const SWEEP_MAX_MS = 60_000;

let provider: Provider;
let threads: ThreadTable;
/** Provider start calls in progress, abandoned ones included. */
let starting = 0;
let stopFailures = 0;

export const init: HandlerInit<ReactorData> = async (data, { shard }) => {
  if (data.otlpEndpoint !== undefined) await startOtlpExport(data.otlpEndpoint);
  if (data.provider) provider = await loadProvider(data.provider, shard);
  else if (data.agent) provider = await createAgentProvider(data.agent, shard);
  else provider = createSimulator(data.simulator);
  threads = new ThreadTable(data.sessions, (key, session) => stopInBackground(session, `lanepool:evict:${key}:${session.sessionId}`));
  if (data.sessions.idleMs > 0) {
    const every = Math.min(SWEEP_MAX_MS, Math.max(SWEEP_MIN_MS, Math.floor(data.sessions.idleMs / 4)));
    setInterval(() => threads.sweep(), every).unref();
  }
};

const reactor: Handler<ReactorTask, unknown> = async (task, ctx) => {
  const { key, signal, attempt } = ctx;
  if (task.type === 'lanepool.thread.describe') return threadView(key);
  threads.begin(key);
  try {
    if (task.startGate) {
      await startGateOpened(new Int32Array(task.startGate), signal, key);
      // Cancelled while the gate opened (the partition was given up): the provider must not see it.
      signal.throwIfAborted();
    }
    const call: CallBase = { signal, intentId: task.intentId, attempt, emit: (event) => ctx.emit(checkEvent(event)) };
    // Under the intent's span, so the provider's own spans are its children (see trace-context.ts).
    const parent = task.traceparent === undefined ? undefined : contextFrom(task.traceparent);
    return await (parent === undefined ? run(task, key, call) : context.with(parent, () => run(task, key, call)));
  } finally {
    threads.end(key);
  }
};
export default reactor;

/** This worker's sessions, for probes and /metrics (see HandlerStats). */
export const stats: HandlerStats = (): ReactorStats => ({ ...threads.stats(), sessionsStarting: starting, sessionStopFailures: stopFailures });

/** What every provider call of one intent carries. */
interface CallBase {
  signal: AbortSignal;
  intentId: string;
  attempt: number;
  emit(event: ProviderEvent): void;
}

async function run(intent: Intent, key: string, call: CallBase): Promise<unknown> {
  switch (intent.type) {
    case 'thread.turn.start': {
      const { input, runtimeMode, cwd, simulate } = intent.payload;
      const thread = threads.ensure(key);
      if (runtimeMode !== undefined) thread.runtimeMode = runtimeMode;
      const { session, restarted } = await ensureSession(key, thread, call, simulate, cwd);
      let turn;
      try {
        // Spelled out rather than spread: a spread and two more fields made V8 define them through a
        // runtime call on every turn (5% of a worker's time in the http benchmark's profile).
        turn = await provider.sendTurn(session, { signal: call.signal, intentId: call.intentId, attempt: call.attempt, emit: call.emit, input, simulate });
      } finally {
        // Its agent died under the turn: the next turn starts a new session instead of failing too.
        if (provider.isAlive?.(session) === false && thread.session === session) threads.setSession(thread, null);
      }
      if (turn.cursor !== undefined) thread.cursor = session.cursor = turn.cursor;
      return {
        sessionId: session.sessionId, turnId: turn.turnId, status: turn.status ?? 'completed', cursor: thread.cursor, restarted, output: turn.output,
      };
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
      // Drop the state first: an abandoned start finishing later sees a new generation and backs off.
      const thread = threads.remove(key);
      if (thread === undefined) return { stopped: false };
      const wasStarting = thread.starting !== null;
      if (thread.session === null) return { stopped: false, wasStarting };
      await provider.stopSession(thread.session, { ...call, simulate: intent.payload.simulate });
      return { stopped: true, sessionId: thread.session.sessionId, wasStarting };
    }
    case 'thread.runtime-mode.set': {
      const thread = threads.ensure(key);
      thread.runtimeMode = intent.payload.mode;
      return { runtimeMode: thread.runtimeMode, restartsOnNextTurn: thread.session !== null && thread.session.runtimeMode !== thread.runtimeMode };
    }
  }
}

/** Starts a session if the thread has none or its runtime mode changed, resuming from the last cursor. */
async function ensureSession(key: string, thread: ThreadState, call: CallBase, simulate: Simulate | undefined, cwd: string | undefined) {
  const { signal } = call;
  const mode = thread.runtimeMode;
  // A session whose agent is gone (its process exited while idle) is dropped: this turn starts a new one.
  if (thread.session !== null && provider.isAlive?.(thread.session) === false) {
    const dead = thread.session;
    threads.setSession(thread, null);
    void stopInBackground(dead, call.intentId);
  }
  if (thread.session !== null && thread.session.runtimeMode === mode) return { session: thread.session, restarted: false };
  let restarted = false;
  if (thread.session !== null) {
    const old = thread.session;
    threads.setSession(thread, null);
    await provider.stopSession(old, call);
    restarted = true;
  }
  // A session of this thread evicted a moment ago may still be stopping: never run two at once.
  const evicted = threads.stopped(key);
  if (evicted !== undefined) await evicted;
  const generation = thread.generation;
  // A token, not a flag: an abandoned earlier start finishing now must not clear a newer one's marker.
  const marker = { runtimeMode: mode };
  thread.starting = marker;
  threads.makeRoom();
  let started: ProviderSession;
  starting++;
  try {
    started = await provider.startSession({ ...call, threadId: key, runtimeMode: mode, resumeCursor: thread.cursor, cwd, simulate });
  } finally {
    starting--;
    if (thread.starting === marker) thread.starting = null;
  }
  if (thread.generation !== generation || threads.get(key) !== thread || signal.aborted) {
    // Stopped or released while starting: nobody will use this session, so close it in the background.
    void stopInBackground(started, call.intentId);
    throw signal.aborted ? signal.reason : new Error('the session was stopped while it was starting');
  }
  const session: LiveSession = { ...started, runtimeMode: mode };
  threads.setSession(thread, session);
  return { session, restarted };
}

/**
 * Stops a session nobody uses any more (evicted, or orphaned by a stop during its start), bounded in
 * time; a failure is counted in `sessionStopFailures`, never thrown into a lane.
 */
async function stopInBackground(session: ProviderSession, intentId: string): Promise<void> {
  // Called inside a promise: a stopSession that throws synchronously, or returns no promise at all,
  // must become a counted failure or success here, not a rejection nobody handles (which kills the worker).
  const call = { signal: AbortSignal.timeout(BACKGROUND_STOP_MS), intentId, attempt: 1, emit: () => {} };
  const stop = Promise.resolve().then(() => provider.stopSession(session, call));
  if (!(await within(stop, BACKGROUND_STOP_MS))) stopFailures++;
}

/** A provider's event must have a `kind`: told to the provider at its `emit`, not lost on the way. */
function checkEvent(event: ProviderEvent): ProviderEvent {
  if (event === null || typeof event !== 'object' || typeof event.kind !== 'string' || event.kind === '') {
    throw new TypeError(`a provider event must be an object with a non-empty string kind, got ${JSON.stringify(event)?.slice(0, 200)}`);
  }
  return event;
}

function liveSession(key: string, intent: string): ProviderSession {
  const session = threads.get(key)?.session;
  if (!session) throw new NoSessionError({ key, intent });
  return session;
}

/** The `lanepool.thread.describe` intent's answer: what this worker knows of the thread's session. */
function threadView(key: string): ThreadView {
  const thread = threads.get(key);
  if (thread === undefined) return { session: null, runtimeMode: threads.resumeCursor(key)?.runtimeMode ?? DEFAULT_RUNTIME_MODE };
  const { session, starting, runtimeMode } = thread;
  if (session !== null) {
    return { runtimeMode, session: { status: 'ready', sessionId: session.sessionId, runtimeMode: session.runtimeMode, ...(session.cursor ? { cursor: session.cursor } : {}) } };
  }
  return { runtimeMode, session: starting ? { status: 'starting', runtimeMode: starting.runtimeMode } : null };
}
