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
  const activeTurns = new Map<string, AbortController>();
  /** Requests a turn waits on, by requestId: removed when answered or when the wait ends. */
  const pending = new Map<string, { sessionId: string; answer(value: unknown): void }>();

  function waitForAnswer<T>(requestId: string, sessionId: string, signal: AbortSignal): Promise<T> {
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        pending.delete(requestId);
        reject(signal.reason);
      };
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      pending.set(requestId, { sessionId, answer: (value) => {
        signal.removeEventListener('abort', onAbort);
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
      const turn = new AbortController();
      activeTurns.set(session.sessionId, turn);
      const cursor = String(Number(session.cursor ?? 0) + 1);
      const turnId = `turn-${cursor}`;
      const output: Record<string, unknown> = { echo: input.slice(0, 200), interrupted: false };
      const event = (kind: string, extra: Omit<ProviderEvent, 'kind' | 'turnId'> = {}): void => emit({ kind, turnId, ...extra });
      // Interrupt (or stop) ends the turn; the intent's own signal (cancel, deadline) fails it.
      const either = AbortSignal.any([signal, turn.signal]);
      let cancelled = false;
      try {
        event('turn.started');
        for (let index = 0; index < (simulate?.items ?? 0); index++) event('item.completed', { data: { index, text: `item ${index}` } });
        if (simulate?.approval) {
          const requestId = randomUUID();
          event('approval.requested', { requestId, data: { command: `echo ${JSON.stringify(input.slice(0, 50))}` } });
          const decision = await waitForAnswer<string>(requestId, session.sessionId, either);
          output.approval = decision;
          cancelled = decision === 'cancel';
        }
        if (simulate?.userInput && !cancelled) {
          const requestId = randomUUID();
          event('user-input.requested', { requestId, data: { questions: [{ id: 'q1', question: 'Which one?' }] } });
          output.answers = await waitForAnswer<Record<string, unknown>>(requestId, session.sessionId, either);
        }
        const hang = simulate?.turnHangMs;
        await sleep(cancelled ? 0 : hang === 'forever' ? Infinity : (hang ?? settings.sendMs), either);
      } catch (error) {
        if (!turn.signal.aborted || signal.aborted) throw error;
      } finally {
        activeTurns.delete(session.sessionId);
      }
      const status: TurnStatus = turn.signal.aborted || cancelled ? 'interrupted' : 'completed';
      output.interrupted = status === 'interrupted';
      event('turn.completed', { data: { status } });
      return { turnId, status, cursor, output };
    },

    async interruptTurn(session, { signal, simulate }) {
      failIf(simulate, 'interrupt');
      const turn = activeTurns.get(session.sessionId);
      turn?.abort();
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
      activeTurns.get(session.sessionId)?.abort();
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

/** Resolves after `ms` (never, for Infinity); rejects with the signal's reason when it aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const timer = Number.isFinite(ms) ? setTimeout(done, ms) : undefined;
    function done(): void {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }
    function onAbort(): void {
      clearTimeout(timer);
      reject(signal.reason);
    }
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

function burnCpu(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // Spin: this is the simulated CPU-heavy turn.
  }
}
