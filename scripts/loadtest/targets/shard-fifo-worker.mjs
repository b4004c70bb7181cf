// The shard-fifo baseline's worker: the service's reactor, fed one intent at a time by piscina.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
const { default: reactor, init } = await import('../../../src/worker/service/reactor.ts');
await init({ simulator: workerData.simulator, sessions: workerData.sessions }, { shard: workerData.shard });

export default function run({ threadId, task }) {
  // The whole HandlerContext: the reactor hands `emit` to the provider, and the simulator emits on every turn.
  return reactor(task, { key: threadId, shard: workerData.shard, attempt: 1, signal: new AbortController().signal, transfer: () => {}, emit: () => {} });
}
