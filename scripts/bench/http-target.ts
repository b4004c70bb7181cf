/**
 * One server of the `http` benchmark, in a process of its own so that its CPU time can be read alone
 * (`process.cpuUsage()` counts every thread of the process: the main thread and the pool's workers).
 * Forked by http.ts with its design as the only argument:
 *
 *   bare      a bare Fastify 5 app: one route, POST /v1/threads/:threadId/intents, with the service's
 *             params and body schemas and its strict Ajv options, answering 202 and a body of the same
 *             shape as the service's, and doing nothing else
 *   service   `startService` as `lanepool serve` runs it, with the simulator at 0 ms and 2 shards
 *
 * IPC: it sends `{ port }` once listening, answers `'cpu'` with `{ cpu: process.cpuUsage() }`, and on
 * `'stop'` shuts down and exits (so `--cpu-prof` writes its profiles).
 */
import { randomUUID } from 'node:crypto';
import Fastify from 'fastify';
import { resolveConfig, startService } from '../../src/main/service/index.ts';
import { threadParams } from '../../src/main/service/route-context.ts';
import { submissionSchema } from '../../src/shared/intents.ts';

export type Design = 'bare' | 'service';

/** Messages from the target to http.ts. */
export type TargetMessage = { port: number } | { cpu: NodeJS.CpuUsage };

async function bare(): Promise<{ port: number; stop(): Promise<void> }> {
  const app = Fastify({ ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } } });
  app.post<{ Params: { threadId: string } }>(
    '/v1/threads/:threadId/intents',
    { schema: { params: threadParams, body: submissionSchema } },
    async (request, reply) => reply.code(202).send({ intentId: randomUUID(), threadId: request.params.threadId, shard: 0, status: 'queued' }),
  );
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as { port: number };
  return { port, stop: () => app.close() };
}

async function service(): Promise<{ port: number; stop(): Promise<void> }> {
  const started = await startService(resolveConfig({ host: '127.0.0.1', port: 0, shards: 2, simStartMs: 0, simSendMs: 0, simInterruptMs: 0, simStopMs: 0 }));
  return { port: Number(new URL(started.url).port), stop: () => started.shutdown() };
}

const design = process.argv[2] as Design;
if (design !== 'bare' && design !== 'service') throw new Error(`http-target: unknown design ${JSON.stringify(design)}`);
const target = design === 'bare' ? await bare() : await service();
const send = (message: TargetMessage): boolean => process.send!(message);
process.on('message', (message) => {
  if (message === 'cpu') send({ cpu: process.cpuUsage() });
  if (message === 'stop') void target.stop().then(() => process.exit(0));
});
send({ port: target.port });
