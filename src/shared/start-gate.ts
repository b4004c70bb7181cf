/**
 * The start gate of a GatedIntent (intents.ts): one Int32 in a SharedArrayBuffer through which the
 * main thread tells the worker that an intent's start is recorded (open) or fenced (refused).
 *
 *   main:   createStartGate() ─► sent with the intent ─► record written ─► openStartGate(gate, verdict)
 *   worker: startGateOpened(gate, signal)  ── sleeps until the verdict or the intent's cancel ──►
 *
 * Invariant: the verdict is stored before it is notified, and slot 0 moves from CLOSED exactly once,
 * so a waiter that starts before the store is woken by the notify, and one that starts after it sees
 * the value without sleeping: no verdict is missed, and no timer is needed to catch one.
 */
import { LaneCancelledError } from './errors.ts';

const CLOSED = 0;
const OPEN = 1;
const REFUSED = 2;

/** A closed gate, to send with the intent (as `startGate`). */
export function createStartGate(): Int32Array<SharedArrayBuffer> {
  return new Int32Array(new SharedArrayBuffer(4));
}

/** Main thread: opens the gate, or refuses the start (`open` false), and wakes the worker. */
export function openStartGate(gate: Int32Array<SharedArrayBuffer>, open: boolean): void {
  Atomics.store(gate, 0, open ? OPEN : REFUSED);
  Atomics.notify(gate, 0);
}

/**
 * Worker: resolves once the gate is open; wakes at once on the verdict, or on `signal` (the intent
 * was cancelled, e.g. its partition handed over), which the worker notifies on its own gate.
 * @throws the signal's reason if the intent is cancelled first.
 * @throws LaneCancelledError if the start was refused (fenced): the provider must not be called.
 */
export async function startGateOpened(gate: Int32Array<SharedArrayBuffer>, signal: AbortSignal, key: string): Promise<void> {
  // Notifying our own gate wakes our own wait: a cancel needs no verdict from the main thread.
  const wake = (): void => void Atomics.notify(gate, 0);
  signal.addEventListener('abort', wake, { once: true });
  try {
    while (Atomics.load(gate, 0) === CLOSED) {
      signal.throwIfAborted();
      const wait = Atomics.waitAsync(gate, 0, CLOSED);
      if (wait.async) await wait.value;
    }
  } finally {
    signal.removeEventListener('abort', wake);
  }
  if (Atomics.load(gate, 0) === REFUSED) throw new LaneCancelledError({ key, reason: 'start refused: the partition is no longer held here' });
}
