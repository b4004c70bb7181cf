/** GET /v1/threads/:threadId (lane and session state) and GET /v1/threads/:threadId/events (SSE). */
import type { FastifyInstance } from 'fastify';
import { threadParams, type RouteContext } from '../route-context.ts';
import { SseStream } from '../sse-stream.ts';

const HEARTBEAT_MS = 15_000;

/** `Last-Event-ID`, as the stream's ids are written: a non-negative integer (see thread-events.ts). */
const lastEventIdHeader = {
  type: 'object',
  properties: { 'last-event-id': { type: 'string', pattern: '^[0-9]{1,16}$' } },
} as const;

export function threadRoutes(app: FastifyInstance, ctx: RouteContext): void {
  app.get<{ Params: { threadId: string } }>('/v1/threads/:threadId', { schema: { params: threadParams } }, async (request) => {
    const { threadId } = request.params;
    const shard = ctx.pool.shardOf(threadId);
    const { state, restarts, restartsByReason } = ctx.pool.stats().shards[shard]!;
    const { queued, running } = ctx.dispatcher.activity(threadId);
    const view = await ctx.dispatcher.describe(threadId);
    const placement = await ctx.intents.placement(threadId);
    return {
      threadId,
      ...placement,
      shard,
      queued,
      running: running[0] ?? null,
      control: running.slice(1),
      session: view === undefined ? 'unknown' : view.session,
      runtimeMode: view?.runtimeMode ?? null,
      shardState: state,
      restarting: state === 'recovering' || state === 'backoff' || (state === 'starting' && restarts > 0),
      shardRestarts: restartsByReason,
    };
  });

  app.get<{ Params: { threadId: string }; Headers: { 'last-event-id'?: string } }>('/v1/threads/:threadId/events', {
    schema: { params: threadParams, headers: lastEventIdHeader },
  }, (request, reply) => {
    const { threadId } = request.params;
    const since = request.headers['last-event-id'];
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    const stream = new SseStream(res, ctx.config.sseMaxBufferBytes, () => {
      ctx.metrics.sseDropped();
      request.log.warn({ threadId, maxBufferBytes: ctx.config.sseMaxBufferBytes }, 'events subscriber fell too far behind: disconnected');
    });
    stream.write(': subscribed\n\n');
    const unsubscribe = ctx.intents.subscribe(threadId, (frame) => stream.write(frame), since === undefined ? undefined : Number(since));
    const heartbeat = setInterval(() => stream.write(': ping\n\n'), HEARTBEAT_MS);
    heartbeat.unref();
    ctx.streams.add(res);
    res.on('close', () => {
      clearInterval(heartbeat);
      unsubscribe();
      ctx.streams.delete(res);
    });
  });
}
