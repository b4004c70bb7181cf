import { afterEach, describe, expect, it, vi } from 'vitest';
import { createStartGate, openStartGate, startGateOpened } from '../src/shared/start-gate.ts';
import { outcome, settlesWithin } from './helpers.ts';

/** Lets the event loop run for `ms`: long enough that a polling wait would have woken several times. */
const idle = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('the start gate', () => {
  afterEach(() => vi.restoreAllMocks());

  it('lets the intent start once the main thread opens it', async () => {
    const gate = createStartGate();
    const opened = startGateOpened(gate, new AbortController().signal, 'k');
    openStartGate(gate, true);
    await settlesWithin(opened, 'the opened gate');
  });

  it('refuses the start with a LaneCancelledError when the main thread refuses it', async () => {
    const gate = createStartGate();
    const opened = outcome(startGateOpened(gate, new AbortController().signal, 'k'));
    openStartGate(gate, false);
    const result = await settlesWithin(opened, 'the refused gate');
    expect(result.ok).toBe(false);
    expect(!result.ok && result.error.code).toBe('ERR_LANE_CANCELLED');
  });

  it('sleeps in one wait until the verdict, rather than waking on a timer to look again', async () => {
    const waits = vi.spyOn(Atomics, 'waitAsync');
    const gate = createStartGate();
    const opened = startGateOpened(gate, new AbortController().signal, 'k');
    await idle(350);
    // A wait with a timeout (the former 100 ms poll) would have been made again after each timeout.
    expect(waits.mock.calls.map((args) => args[3])).toEqual([undefined]);
    openStartGate(gate, true);
    await settlesWithin(opened, 'the opened gate');
  });

  it('wakes on a cancel with no verdict from the main thread, and rejects with its reason', async () => {
    const waits = vi.spyOn(Atomics, 'waitAsync');
    const gate = createStartGate();
    const cancel = new AbortController();
    const opened = outcome(startGateOpened(gate, cancel.signal, 'k'));
    cancel.abort(new Error('partition handed over'));
    const result = await settlesWithin(opened, 'the cancelled wait');
    expect(!result.ok && result.error.message).toBe('partition handed over');
    expect(waits).toHaveBeenCalledTimes(1);
    // The gate itself is still closed: the worker woke its own wait.
    expect(Atomics.load(gate, 0)).toBe(0);
  });

  it('does not wait at all for a gate opened before the worker looks, nor for an intent already cancelled', async () => {
    const gate = createStartGate();
    openStartGate(gate, true);
    await settlesWithin(startGateOpened(gate, new AbortController().signal, 'k'), 'the open gate');
    const result = await outcome(startGateOpened(createStartGate(), AbortSignal.abort(new Error('gone')), 'k'));
    expect(!result.ok && result.error.message).toBe('gone');
  });
});
