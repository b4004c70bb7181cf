/**
 * Baseline 2, "per-thread-main": the common quick fix. One promise chain per threadId on the main
 * thread: no head-of-line blocking across threads, but every handler's CPU work runs on the main
 * event loop, and the map of chains is never torn down. A stop waits behind its thread's chain.
 */
import type { PlannedIntent } from '../plan.ts';
import { failureOf, outcomeOf, type Target } from '../target.ts';
import { InProcessReactor } from './in-process.ts';

export async function createPerThreadMain(): Promise<Target> {
  const reactor = await InProcessReactor.create();
  const tails = new Map<string, Promise<unknown>>();

  function enqueue(threadId: string, work: () => Promise<unknown>): Promise<unknown> {
    const run = (tails.get(threadId) ?? Promise.resolve()).catch(() => undefined).then(work);
    tails.set(threadId, run);
    return run;
  }

  return {
    mode: 'per-thread-main',
    submit: (threadId: string, intent: PlannedIntent) => enqueue(threadId, () => reactor.run(threadId, intent)).then(outcomeOf, failureOf),
    stop: (threadId: string) => enqueue(threadId, () => reactor.run(threadId, { type: 'thread.session.stop', payload: {} })).then(outcomeOf, failureOf),
    close: async () => {
      tails.clear();
      reactor.release();
    },
  };
}
