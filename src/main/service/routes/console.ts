/**
 * GET /console (the operator console, a static page and its files) and GET /v1/console and
 * GET /v1/console/threads/:threadId (the data it polls, behind the token like every /v1 route).
 *
 * The page holds no data of its own: it reads everything through these authenticated routes, so
 * serving it without the token discloses nothing. Its Content-Security-Policy allows scripts, styles
 * and requests from this origin only, and no inline script or style element.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { loadConsoleAssets } from '../console-assets.ts';
import { sendError } from '../http-errors.ts';
import { threadParams, type RouteContext } from '../route-context.ts';

/** Routes the token check lets through: the static page, so that it can ask for the token. */
export const CONSOLE_PAGE_ROUTES: ReadonlySet<string> = new Set(['/console', '/console/:file']);

/** How many settled intents a thread look-up shows. */
const RECENT_SETTLED = 10;

const CSP = [
  "default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "img-src 'self' data:",
  "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'",
].join('; ');

export function consoleRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const assets = loadConsoleAssets();
  const send = (file: string, reply: FastifyReply): FastifyReply => {
    const asset = assets.get(file);
    if (asset === undefined) return sendError(reply, 'ERR_NOT_FOUND', `no console file ${file}`);
    reply.header('content-security-policy', CSP);
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
    reply.header('cache-control', 'no-cache');
    return reply.type(asset.type).send(asset.body);
  };
  app.get('/console', async (_request, reply) => send('index.html', reply));
  // Only the names in the asset map: the parameter is a key, never a path on disk.
  app.get<{ Params: { file: string } }>('/console/:file', async (request, reply) => send(request.params.file, reply));

  app.get('/v1/console', async () => {
    const { shards } = ctx.pool.stats();
    return {
      state: ctx.state(),
      stuckAfterMs: ctx.config.stuckAfterMs,
      now: new Date().toISOString(),
      shards: shards.map(({ id, state, restarts, restartsByReason, queued, running, lanes }) => ({ id, state, restarts, restartsByReason, queued, running, lanes })),
      stuck: ctx.dispatcher.stuckThreads(ctx.config.stuckAfterMs),
      jetstream: ctx.intents.overview(),
    };
  });

  app.get<{ Params: { threadId: string } }>('/v1/console/threads/:threadId', { schema: { params: threadParams } }, async (request) => {
    const { threadId } = request.params;
    const { unsettled, settled } = ctx.records.ofThread(threadId, RECENT_SETTLED);
    return {
      threadId,
      shard: ctx.pool.shardOf(threadId),
      queued: unsettled.filter((r) => r.status === 'queued'),
      running: unsettled.filter((r) => r.status === 'running'),
      settled,
    };
  });
}
