/**
 * Baseline 3, "shard-fifo": threadIds hashed onto worker threads (the same routing as lanepool), but
 * each worker takes one intent at a time from a plain FIFO, with no keyed queue inside. A hung start
 * therefore blocks every thread of its shard.
 */
import { Piscina } from 'piscina';
import { shardFor } from '../../../src/main/routing.ts';
import { resolveConfig } from '../../../src/main/service/config.ts';
import { sessionLimits } from '../../../src/main/service/service-pool.ts';
import type { PlannedIntent } from '../plan.ts';
import { SIMULATOR, failureOf, outcomeOf, type Target } from '../target.ts';

const WORKER = new URL('./shard-fifo-worker.mjs', import.meta.url).href;
let nextId = 0;

export async function createShardFifo(shards: number): Promise<Target> {
  const pools = Array.from({ length: shards }, (_, shard) => new Piscina({
    filename: WORKER, minThreads: 1, maxThreads: 1, concurrentTasksPerWorker: 1, atomics: 'disabled',
    // The service's own session limits, so the reactor runs exactly as it does behind lanepool.
    workerData: { shard, simulator: SIMULATOR, sessions: sessionLimits(resolveConfig({})) },
  }));
  const run = (threadId: string, task: unknown) =>
    pools[shardFor(threadId, shards)]!.run({ threadId, task: { ...(task as object), intentId: `sf-${++nextId}` } });
  return {
    mode: 'shard-fifo',
    submit: (threadId: string, intent: PlannedIntent) => run(threadId, intent).then(outcomeOf, failureOf),
    stop: (threadId: string) => run(threadId, { type: 'thread.session.stop', payload: {} }).then(outcomeOf, failureOf),
    close: async () => {
      await Promise.all(pools.map((pool) => pool.destroy()));
    },
  };
}
