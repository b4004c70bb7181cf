/**
 * The built-in provider simulator. Healthy by default: every operation takes its configured latency
 * (a few ms). An intent's `payload.simulate` can make it hang its session start (for a time or
 * forever), burn CPU in sendTurn, or fail, which makes load tests deterministic.
 *
 * Ids count per thread, read from the thread's cursor (its turns so far), so they never depend on
 * what other threads of the worker did, carry on across a session resumed from that cursor (after a
 * mode change, an eviction, or in another worker), and cost no per-thread state here:
 *   - turnId `turn-<n>`: the thread's n-th turn.
 *   - sessionId `sim-<threadId>-<n>`: the thread's session that began at its n-th turn. A Stop drops the
 *     cursor, so the thread's next session is `-1` again: a new conversation.
 */
import { ProviderError } from '../../shared/errors.ts';
import type { Simulate } from '../../shared/service/intents.ts';
import type { Provider, ProviderSession, SimulatorSettings } from '../../shared/service/provider.ts';

type Operation = 'start' | 'send' | 'interrupt' | 'approval' | 'user-input' | 'stop';

export function createSimulator(settings: SimulatorSettings): Provider {
  /** Turns in progress by session id, so an interrupt has something to interrupt. */
  const activeTurns = new Map<string, AbortController>();

  return {
    async startSession({ threadId, resumeCursor, signal, simulate }) {
      failIf(simulate, 'start');
      const hang = simulate?.startHangMs;
      await sleep(hang === 'forever' ? Infinity : (hang ?? settings.startMs), signal);
      const cursor = resumeCursor ?? '0';
      return { sessionId: `sim-${threadId}-${Number(cursor) + 1}`, cursor };
    },

    async sendTurn(session, { input, signal, simulate }) {
      failIf(simulate, 'send');
      if (simulate?.sendCpuMs) burnCpu(simulate.sendCpuMs);
      const turn = new AbortController();
      activeTurns.set(session.sessionId, turn);
      try {
        await sleep(settings.sendMs, AbortSignal.any([signal, turn.signal]));
      } catch (error) {
        if (!turn.signal.aborted) throw error;
      } finally {
        activeTurns.delete(session.sessionId);
      }
      const cursor = String(Number(session.cursor ?? 0) + 1);
      return { turnId: `turn-${cursor}`, cursor, output: { echo: input.slice(0, 200), interrupted: turn.signal.aborted } };
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
      return { requestId, decision, sessionId: session.sessionId };
    },

    async respondToUserInput(session, { requestId, signal, simulate }) {
      failIf(simulate, 'user-input');
      await sleep(settings.sendMs, signal);
      return { requestId, sessionId: session.sessionId };
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
