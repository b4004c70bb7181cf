/** POST /v1/drain, GET /metrics, GET /healthz, GET /readyz. */
import type { FastifyInstance } from 'fastify';
import { DrainTimeoutError } from '../../../shared/errors.ts';
import { sendError } from '../http-errors.ts';
import type { RouteContext } from '../route-context.ts';

const DEFAULT_DRAIN_TIMEOUT_MS = 30_000;

export function operationRoutes(app: FastifyInstance, ctx: RouteContext): void {
  // Its own scope, for its own JSON parser: the route takes no body, and a client that sends
  // `Content-Type: application/json` with an empty body (as many HTTP libraries do for a bodiless
  // POST) must not get a 400 for it. A non-empty body is still parsed, strictly, and ignored.
  app.register(async (scope) => {
    const json = scope.getDefaultJsonParser('error', 'error');
    scope.removeContentTypeParser('application/json');
    scope.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
      if (body === '') return done(null, undefined);
      return json(request, String(body), done);
    });
    scope.post<{ Querystring: { timeoutMs?: string } }>(
      '/v1/drain',
      { schema: { querystring: { type: 'object', additionalProperties: false, properties: { timeoutMs: { type: 'string', pattern: '^[0-9]{1,9}$' } } } } },
      async (request, reply) => {
        const timeoutMs = request.query.timeoutMs === undefined ? DEFAULT_DRAIN_TIMEOUT_MS : Number(request.query.timeoutMs);
        try {
          await ctx.pool.drain({ timeoutMs });
          return { drained: true };
        } catch (error) {
          if (!(error instanceof DrainTimeoutError)) throw error;
          return sendError(reply, 'ERR_DRAIN_TIMEOUT', error.message, { busyThreads: error.keys });
        }
      },
    );
  });

  app.get('/metrics', async (_request, reply) => {
    reply.type(ctx.metrics.registry.contentType);
    return ctx.metrics.registry.metrics();
  });

  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    const shards = ctx.pool.stats().shards.map(({ id, state }) => ({ id, state }));
    const state = ctx.state();
    let status: string = state;
    if (state === 'ready' && shards.some((s) => s.state !== 'ready')) status = 'degraded';
    const { healthy, detail } = ctx.intents.health();
    if (status === 'ready' && !healthy) status = 'degraded';
    return reply.code(status === 'ready' ? 200 : 503).send({ status, shards, ...detail });
  });
}
