/**
 * Baseline 1, "global": one queue for every intent of every thread, run one at a time on the main
 * thread, as a reactor with a single drainable worker does. A stop waits its turn like any intent.
 */
import type { PlannedIntent } from '../plan.ts';
import { failureOf, outcomeOf, type Target } from '../target.ts';
import { InProcessReactor } from './in-process.ts';

export async function createGlobal(): Promise<Target> {
  const reactor = await InProcessReactor.create();
  const queue: (() => Promise<void>)[] = [];
  let draining = false;

  async function drain(): Promise<void> {
    if (draining) return;
    draining = true;
    while (queue.length > 0) await queue.shift()!();
    draining = false;
  }

  function enqueue(work: () => Promise<unknown>): Promise<unknown> {
    return new Promise((resolve, reject) => {
      queue.push(() => work().then(resolve, reject));
      void drain();
    });
  }

  return {
    mode: 'global',
    submit: (threadId: string, intent: PlannedIntent) => enqueue(() => reactor.run(threadId, intent)).then(outcomeOf, failureOf),
    stop: (threadId: string) => enqueue(() => reactor.run(threadId, { type: 'thread.session.stop', payload: {} })).then(outcomeOf, failureOf),
    close: async () => {
      queue.length = 0;
      reactor.release();
    },
  };
}
