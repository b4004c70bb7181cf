/**
 * Baseline 1, "global": one queue for every intent of every thread, run one at a time on the main
 * thread, as a reactor with a single drainable worker does. A stop waits its turn like any intent.
 */
import { AgentProcesses } from '../../../src/main/service/agent-processes.ts';
import { CodexWorkspace } from '../codex-agents.ts';
import type { PlannedIntent } from '../plan.ts';
import { failureOf, outcomeOf, type Outcome, type Target } from '../target.ts';
import { InProcessReactor } from './in-process.ts';

/** With `codex`, every session is a fake Codex app-server process (see codex-agents.ts). */
export async function createGlobal(options: { codex?: boolean } = {}): Promise<Target> {
  const workspace = options.codex ? new CodexWorkspace() : undefined;
  // The service's own registry, so that closing the mode stops the sessions it left.
  const agents = workspace ? new AgentProcesses({ stopGraceMs: 1000 }) : undefined;
  const reactor = await InProcessReactor.create(workspace?.settings(agents?.channelName));
  const outcome = (result: unknown): Outcome => (workspace ? workspace.outcome(result) : outcomeOf(result));
  let orphans = 0;
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
    submit: (threadId: string, intent: PlannedIntent) =>
      enqueue(() => reactor.run(threadId, workspace ? workspace.intent(threadId, intent) : intent)).then(outcome, failureOf),
    stop: (threadId: string) => enqueue(() => reactor.run(threadId, { type: 'thread.session.stop', payload: {} })).then(outcomeOf, failureOf),
    close: async () => {
      queue.length = 0;
      reactor.release();
      if (workspace && agents) {
        // Let the last announcements arrive, then stop what the mode left running.
        await new Promise((resolve) => setTimeout(resolve, 50));
        await agents.stop();
        orphans = workspace.running();
        workspace.remove();
      }
    },
    orphans: () => orphans,
  };
}
