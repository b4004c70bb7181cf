/**
 * The built-in provider simulator. Healthy by default: every operation takes its configured latency
 * (a few ms). An intent's `payload.simulate` can make it hang its session start (for a time or
 * forever), burn CPU in sendTurn, or fail, which makes load tests deterministic; and make a turn
 * stream items, ask for an approval or user input and wait for the answer, or hang until
 * interrupted, so the whole round trip of a real agent is tested without one.
 *
 * Events of a turn, in order: `turn.started`; `item.completed` × `simulate.items`;
 * `approval.requested` (then waits for `respondToApproval`); `user-input.requested` (then waits for
 * `respondToUserInput`); `turn.completed` with `{ status }`. A request's `requestId` is fresh (a
 * UUID). A turn interrupted while it waits or hangs ends with status `interrupted`; an approval
 * answered `cancel` ends it so too.
 *
 * Ids count per thread, read from the thread's cursor (its turns so far), so they never depend on
 * what other threads of the worker did, carry on across a session resumed from that cursor (after a
 * mode change, an eviction, or in another worker), and cost no per-thread state here:
 *   - turnId `turn-<n>`: the thread's n-th turn.
 *   - sessionId `sim-<threadId>-<n>`: the thread's session that began at its n-th turn. A Stop drops the
 *     cursor, so the thread's next session is `-1` again: a new conversation.
 */
import { randomUUID } from 'node:crypto';
import { ProviderError } from '../../shared/errors.ts';
import type { Simulate } from '../../shared/service/intents.ts';
import type { Provider, ProviderEvent, ProviderSession, SimulatorSettings, TurnStatus } from '../../shared/service/provider.ts';

type Operation = 'start' | 'send' | 'interrupt' | 'approval' | 'user-input' | 'stop';

export function createSimulator(settings: SimulatorSettings): Provider {
  /** Turns in progress by session id, so an interrupt has something to interrupt. */
  const activeTurns = new Map<string, TurnInterrupt>();
  /** Requests a turn waits on, by requestId: removed when answered or when the wait ends. */
  const pending = new Map<string, { sessionId: string; answer(value: unknown): void }>();

  function waitForAnswer<T>(requestId: string, sessionId: string, signal: AbortSignal, turn: TurnInterrupt): Promise<T> {
    return new Promise((resolve, reject) => {
      const end = waitEnds(signal, turn, (reason) => {
        pending.delete(requestId);
        reject(reason);
      });
      if (end === undefined) return;
      pending.set(requestId, { sessionId, answer: (value) => {
        end();
        pending.delete(requestId);
        resolve(value as T);
      } });
    });
  }

  /** Answers a waiting request of the session; false if none waits under that id. */
  function answer(requestId: string, sessionId: string, value: unknown): boolean {
    const waiting = pending.get(requestId);
    if (waiting === undefined || waiting.sessionId !== sessionId) return false;
    waiting.answer(value);
    return true;
  }

  return {
    async startSession({ threadId, resumeCursor, signal, simulate }) {
      failIf(simulate, 'start');
      const hang = simulate?.startHangMs;
      await sleep(hang === 'forever' ? Infinity : (hang ?? settings.startMs), signal);
      const cursor = resumeCursor ?? '0';
      return { sessionId: `sim-${threadId}-${Number(cursor) + 1}`, cursor };
    },

    async sendTurn(session, { input, signal, simulate, emit }) {
      failIf(simulate, 'send');
      if (simulate?.sendCpuMs) burnCpu(simulate.sendCpuMs);
      const turn = new TurnInterrupt();
      activeTurns.set(session.sessionId, turn);
      const cursor = String(Number(session.cursor ?? 0) + 1);
      const turnId = `turn-${cursor}`;
      const output: Record<string, unknown> = { echo: input.slice(0, 200), interrupted: false };
      const event = (kind: string, extra: Omit<ProviderEvent, 'kind' | 'turnId'> = {}): void => emit({ kind, turnId, ...extra });
      // Interrupt (or stop) ends the turn; the intent's own signal (cancel, deadline) fails it. Each
      // wait below ends with whichever comes first (see TurnInterrupt).
      let cancelled = false;
      try {
        event('turn.started');
        for (let index = 0; index < (simulate?.items ?? 0); index++) event('item.completed', { data: { index, text: `item ${index}` } });
        if (simulate?.approval) {
          const requestId = randomUUID();
          event('approval.requested', { requestId, data: { command: `echo ${JSON.stringify(input.slice(0, 50))}` } });
          const decision = await waitForAnswer<string>(requestId, session.sessionId, signal, turn);
          output.approval = decision;
          cancelled = decision === 'cancel';
        }
        if (simulate?.userInput && !cancelled) {
          const requestId = randomUUID();
          event('user-input.requested', { requestId, data: { questions: [{ id: 'q1', question: 'Which one?' }] } });
          output.answers = await waitForAnswer<Record<string, unknown>>(requestId, session.sessionId, signal, turn);
        }
        const hang = simulate?.turnHangMs;
        await sleep(cancelled ? 0 : hang === 'forever' ? Infinity : (hang ?? settings.sendMs), signal, turn);
      } catch (error) {
        if (!turn.interrupted || signal.aborted) throw error;
      } finally {
        activeTurns.delete(session.sessionId);
      }
      const status: TurnStatus = turn.interrupted || cancelled ? 'interrupted' : 'completed';
      output.interrupted = status === 'interrupted';
      event('turn.completed', { data: { status } });
      return { turnId, status, cursor, output };
    },

    async interruptTurn(session, { signal, simulate }) {
      failIf(simulate, 'interrupt');
      const turn = activeTurns.get(session.sessionId);
      turn?.interrupt();
      await sleep(settings.interruptMs, signal);
      return { interrupted: turn !== undefined };
    },

    async respondToApproval(session, { requestId, decision, signal, simulate }) {
      failIf(simulate, 'approval');
      await sleep(settings.sendMs, signal);
      // `matched`: a turn of this session was waiting for this request (else nothing changes).
      return { requestId, decision, sessionId: session.sessionId, matched: answer(requestId, session.sessionId, decision) };
    },

    async respondToUserInput(session, { requestId, answers, signal, simulate }) {
      failIf(simulate, 'user-input');
      await sleep(settings.sendMs, signal);
      return { requestId, sessionId: session.sessionId, matched: answer(requestId, session.sessionId, answers) };
    },

    async stopSession(session: ProviderSession, { signal, simulate }) {
      failIf(simulate, 'stop');
      activeTurns.get(session.sessionId)?.interrupt();
      await sleep(settings.stopMs, signal);
    },
  };
}

/** `fail: true` fails every operation of the intent; a name fails just that one. */
function failIf(simulate: Simulate | undefined, operation: Operation): void {
  if (simulate?.fail === true || simulate?.fail === operation) {
    throw new ProviderError({ operation, detail: 'simulated failure' });
  }
}

/**
 * A turn's interrupt: what `AbortSignal.any([signal, new AbortController().signal])` gave each turn
 * before, without its cost. That made two more signals per turn, and a WeakRef and a set of
 * dependants on the intent's signal, which `npm run bench -- --only http` profiled at about a sixth
 * of each worker's time, most of it their garbage collection.
 *
 * Invariant: a turn waits for one thing at a time (its awaits are sequential), so one listener slot
 * is enough; a wait takes it (`waitEnds`) and gives it back when it ends, whichever way.
 */
class TurnInterrupt {
  interrupted = false;
  /** What the waits of an interrupted turn reject with: the reason `AbortController.abort()` gives. */
  reason: unknown;
  #listener: ((reason: unknown) => void) | undefined;

  interrupt(): void {
    if (this.interrupted) return;
    this.interrupted = true;
    this.reason = new DOMException('This operation was aborted', 'AbortError');
    const listener = this.#listener;
    this.#listener = undefined;
    listener?.(this.reason);
  }

  listen(listener: ((reason: unknown) => void) | undefined): void {
    this.#listener = listener;
  }
}

/**
 * Starts a wait that ends early with the first of the intent's `signal` or the turn's interrupt,
 * calling `ended(reason)` once, as a wait on `AbortSignal.any([signal, turn])` would (the signal
 * first if both have fired). Returns what to call when the wait ends by itself (it stops listening),
 * or undefined if one had already fired (then `ended` has been called).
 */
function waitEnds(signal: AbortSignal, turn: TurnInterrupt | undefined, ended: (reason: unknown) => void): (() => void) | undefined {
  if (signal.aborted) return void ended(signal.reason);
  if (turn?.interrupted) return void ended(turn.reason);
  const stop = (): void => {
    signal.removeEventListener('abort', onAbort);
    turn?.listen(undefined);
  };
  const onAbort = (): void => {
    stop();
    ended(signal.reason);
  };
  signal.addEventListener('abort', onAbort, { once: true });
  turn?.listen((reason) => {
    stop();
    ended(reason);
  });
  return stop;
}

/**
 * Resolves after `ms` (never, for Infinity); rejects with the signal's reason when it aborts, or the
 * turn's when it is interrupted.
 */
function sleep(ms: number, signal: AbortSignal, turn?: TurnInterrupt): Promise<void> {
  return new Promise((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const end = waitEnds(signal, turn, (reason) => {
      clearTimeout(timer);
      reject(reason);
    });
    if (end === undefined || !Number.isFinite(ms)) return;
    timer = setTimeout(() => {
      end();
      resolve();
    }, ms);
  });
}

function burnCpu(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // Spin: this is the simulated CPU-heavy turn.
  }
}
