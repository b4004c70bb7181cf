/** What the load test drives: one design under test (a baseline, or lanepool itself). */
import type { PlannedIntent } from './plan.ts';

export interface Outcome {
  ok: boolean;
  /** The session cursor a completed turn reached; checks per-thread order. */
  cursor?: number;
  code?: string;
}

export interface Target {
  readonly mode: string;
  /** Runs one intent for a thread; settles when the design settles it. */
  submit(threadId: string, intent: PlannedIntent): Promise<Outcome>;
  /** Stops the thread's session the way this design can. */
  stop(threadId: string): Promise<Outcome>;
  close(): Promise<void>;
  /** `--provider codex`: the agent processes still running once `close()` has resolved. */
  orphans?(): number;
}

/** Simulator latencies shared by every target, so they differ only in design. */
export const SIMULATOR = { startMs: 5, sendMs: 3, interruptMs: 1, stopMs: 2 };

export function outcomeOf(result: unknown): Outcome {
  const cursor = Number((result as { cursor?: string } | undefined)?.cursor);
  return Number.isFinite(cursor) ? { ok: true, cursor } : { ok: true };
}

export function failureOf(error: unknown): Outcome {
  const code = (error as { code?: unknown })?.code;
  return { ok: false, code: typeof code === 'string' ? code : 'ERR_UNKNOWN' };
}
