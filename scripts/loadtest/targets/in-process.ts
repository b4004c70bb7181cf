/**
 * Runs the service's own reactor and simulator on the main thread, as the two main-thread baselines
 * do. Every call gets its own AbortController so `close()` can release what is still hanging.
 */
import { resolveConfig } from '../../../src/main/service/config.ts';
import { sessionLimits } from '../../../src/main/service/service-pool.ts';
import type { ReactorTask } from '../../../src/shared/service/intents.ts';
import reactor, { init } from '../../../src/worker/service/reactor.ts';
import { SIMULATOR } from '../target.ts';

let ready: Promise<void> | undefined;
let nextId = 0;

export class InProcessReactor {
  readonly #live = new Set<AbortController>();

  static async create(): Promise<InProcessReactor> {
    await (ready ??= Promise.resolve(init({ simulator: SIMULATOR, sessions: sessionLimits(resolveConfig({})) }, { shard: 0 })));
    return new InProcessReactor();
  }

  /** Runs a planned intent or a stop; the intentId is made up here. */
  async run(threadId: string, task: { type: string; payload: unknown }): Promise<unknown> {
    const controller = new AbortController();
    this.#live.add(controller);
    try {
      return await reactor({ ...task, intentId: `lt-${++nextId}` } as ReactorTask, { key: threadId, shard: 0, attempt: 1, signal: controller.signal, transfer: () => {}, emit: () => {} });
    } finally {
      this.#live.delete(controller);
    }
  }

  /** Aborts everything still running (the hung starts), so nothing outlives the mode. */
  release(): void {
    for (const controller of this.#live) controller.abort(new Error('load test mode over'));
    this.#live.clear();
  }
}
