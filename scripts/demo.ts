// A short demo of the core: one thread's session start hangs; every other thread, even on the same
// shard, still starts at once; then Stop gets through the hang with cancel + a control task.
import { LanePool } from '../src/main/index.ts';

const pool = new LanePool<{ type: 'start' | 'stop'; hang?: boolean }, string>({
  handler: new URL('./demo-handler.ts', import.meta.url),
  shards: 2,
});
await pool.ready();
const hungThread = 'thread-0';
const hung = pool.run(hungThread, { type: 'start', hang: true }).catch((error: Error & { code?: string }) => `${hungThread}: ${error.code}`);

const started = performance.now();
const threads = Array.from({ length: 20 }, (_, i) => `thread-${i + 1}`);
const replies = await Promise.all(threads.map((thread) => pool.run(thread, { type: 'start' })));
console.log(`${replies.length} healthy threads started in ${(performance.now() - started).toFixed(0)} ms while ${hungThread} hangs`);
console.log(`  e.g. ${replies[0]}; ${threads.filter((t) => pool.shardOf(t) === pool.shardOf(hungThread)).length} of them share its shard`);

console.log(`stop ${hungThread}: cancelled ${pool.cancel(hungThread, 'user pressed stop')} task(s)`);
console.log(`  ${await pool.run(hungThread, { type: 'stop' }, { priority: 'control' })}; the hung start settled as ${await hung}`);
const { completed, cancelled, lanes, abandoned } = pool.stats();
console.log(`stats: ${JSON.stringify({ completed, cancelled, lanes, abandoned })}`);
await pool.close();
