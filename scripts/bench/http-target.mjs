/**
 * One server of the `http` benchmark, in a process of its own so that its CPU time can be read alone
 * (`process.cpuUsage()` counts every thread of the process: the main thread and the pool's workers).
 * Forked by http.ts with two arguments, the design and where the package is loaded from (`dist`, as
 * `npm install lanepool` runs it, or `src` through tsx, which the parent then registers):
 *
 *   bare      a bare Fastify 5 app: one route, POST /v1/threads/:threadId/intents, with the service's
 *             params and body schemas and its strict Ajv options, answering 202 and a body of the same
 *             shape as the service's, and doing nothing else
 *   service   `startService` as `lanepool serve` runs it, with the simulator at 0 ms and 2 shards
 *
 * IPC: it sends `{ port }` once listening, answers `'cpu'` with `{ cpu: process.cpuUsage(), mainMicros }`
 * (the main thread's share alone, on Linux), and on
 * `'stop'` shuts down and exits (so `--cpu-prof` writes its profiles).
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Fastify from 'fastify';

const [design, from] = process.argv.slice(2);
if (design !== 'bare' && design !== 'service') throw new Error(`http-target: unknown design ${JSON.stringify(design)}`);
if (from !== 'dist' && from !== 'src') throw new Error(`http-target: load from dist or src, not ${JSON.stringify(from)}`);
const own = (path) => import(new URL(`../../${from}/${from === 'dist' ? path.replace(/\.ts$/, '.js') : path}`, import.meta.url).href);

async function bare() {
  const { threadParams } = await own('main/service/route-context.ts');
  const { submissionSchema } = await own('shared/service/intents.ts');
  const app = Fastify({ ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } } });
  app.post(
    '/v1/threads/:threadId/intents',
    { schema: { params: threadParams, body: submissionSchema } },
    async (request, reply) => reply.code(202).send({ intentId: randomUUID(), threadId: request.params.threadId, shard: 0, status: 'queued' }),
  );
  await app.listen({ host: '127.0.0.1', port: 0 });
  return { port: app.server.address().port, stop: () => app.close() };
}

async function service() {
  const { resolveConfig, startService } = await own('main/service/index.ts');
  const started = await startService(resolveConfig({ host: '127.0.0.1', port: 0, shards: 2, simStartMs: 0, simSendMs: 0, simInterruptMs: 0, simStopMs: 0 }));
  return { port: Number(new URL(started.url).port), stop: () => started.shutdown() };
}

const target = design === 'bare' ? await bare() : await service();
/** The main thread's own CPU time in µs, from Linux's per-thread accounting (the main thread's id is the pid); undefined elsewhere. */
function mainThreadMicros() {
  try {
    const fields = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}
/** USER_HZ: 100 on every Linux Node supports. */
const TICKS_PER_SECOND = 100;

process.on('message', (message) => {
  if (message === 'cpu') process.send({ cpu: process.cpuUsage(), mainMicros: mainThreadMicros() });
  if (message === 'stop') void target.stop().then(() => process.exit(0));
});
process.send({ port: target.port });
