// The shard-fifo baseline's worker: the service's reactor, fed one intent at a time by piscina.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
const { default: reactor, init } = await import('../../../src/worker/service/reactor.ts');
await init({ simulator: workerData.simulator, sessions: workerData.sessions }, { shard: workerData.shard });

export default function run({ threadId, task }) {
  return reactor(task, { key: threadId, shard: workerData.shard, signal: new AbortController().signal });
}
