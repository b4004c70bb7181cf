/**
 * How a worker tells the main thread about the agent processes it runs (`--provider codex` or `acp`),
 * so that the main thread can kill what a dead worker left behind (src/main/service/agent-processes.ts).
 *
 *   worker ──BroadcastChannel(AgentSettings.registry)──► main: { worker, shard, pid?, event }
 *
 * A worker says `hello` once, when its provider is created, before it spawns anything; then
 * `spawned` and `exited` for each process. The channel is named per service, so two services in one
 * process never see each other's processes.
 */

export type AgentAnnouncement =
  /** This worker (its `worker_threads.threadId`) serves `shard`. */
  | { event: 'hello'; worker: number; shard: number }
  /** The worker started an agent process. */
  | { event: 'spawned'; worker: number; shard: number; pid: number }
  /** The agent process has exited (the worker saw it go). */
  | { event: 'exited'; worker: number; shard: number; pid: number };
