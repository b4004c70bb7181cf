/**
 * Runs the service's own reactor and simulator (or, with agent settings, its codex provider) on the
 * main thread, as the two main-thread baselines do. Every call gets its own AbortController so
 * `close()` can release what is still hanging.
 */
import { resolveConfig } from '../../../src/main/service/config.ts';
import { sessionLimits } from '../../../src/main/service/service-pool.ts';
import type { ReactorTask } from '../../../src/shared/service/intents.ts';
import type { AgentSettings } from '../../../src/shared/service/provider.ts';
import reactor, { init } from '../../../src/worker/service/reactor.ts';
import { SIMULATOR } from '../target.ts';

/** The reactor module is one per process: it is initialised again whenever the provider changes. */
let ready: Promise<void> | undefined;
let readyFor: AgentSettings | undefined;
let nextId = 0;

export class InProcessReactor {
  readonly #live = new Set<AbortController>();

  /** On the simulator; with `agent`, on a built-in agent provider (a new one for each call). */
  static async create(agent?: AgentSettings): Promise<InProcessReactor> {
    if (ready === undefined || agent !== readyFor) {
      readyFor = agent;
      ready = Promise.resolve(init({ ...(agent ? { agent } : {}), simulator: SIMULATOR, sessions: sessionLimits(resolveConfig({})) }, { shard: 0 }));
    }
    await ready;
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
