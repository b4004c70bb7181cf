/**
 * The service's Fastify app, without its routes: strict JSON, our error shapes (http-errors.ts), the
 * Host and token checks, and Node's request timeouts from the flags.
 */
import type { ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import { requireToken } from './auth.ts';
import type { ServiceConfig } from './config.ts';
import { allowedHostValues, checkHost } from './host-check.ts';
import { handleError, handleFrameworkError, sendError } from './http-errors.ts';
import { RouteMethods } from './route-methods.ts';

/** `streams`: the open SSE responses, ended when the app closes. */
export function buildApp(config: ServiceConfig, streams: Set<ServerResponse>): FastifyInstance {
  const app = Fastify({
    logger: { level: config.logLevel },
    // One line per request would swamp the log under load; intents are counted in /metrics instead.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.bodyLimit,
    // Let long threadIds reach the schema (and its 400) instead of the router's 414 at 100 characters.
    routerOptions: { maxParamLength: 1024 },
    // Strict bodies: no type coercion and no silently dropped fields; unknown fields are a 400.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
    frameworkErrors: handleFrameworkError,
    // Node's request timeout covers receiving the request (headers and body), not the response, so
    // ?wait=true and the SSE stream are not cut by it. No socket idle timeout (Fastify's
    // connectionTimeout) for the same reason: a ?wait=true request is silent until its intent settles.
    requestTimeout: config.requestTimeoutMs,
    keepAliveTimeout: config.keepAliveTimeoutMs,
    http: {
      headersTimeout: config.headersTimeoutMs,
      requestTimeout: config.requestTimeoutMs,
      // Node checks those two timeouts on this interval (30 s by default), so a 30 s timeout could
      // take a minute to fire; a tenth of the shorter one keeps the overshoot small.
      connectionsCheckingInterval: checkingInterval(config),
    },
  });
  // JSON only: without this Fastify would parse text/plain and answer a schema error, not a content-type one.
  app.removeContentTypeParser('text/plain');
  app.setErrorHandler(handleError);
  const methods = new RouteMethods(app);
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0]!;
    const allowed = methods.allowed(path);
    if (allowed.length === 0) return sendError(reply, 'ERR_NOT_FOUND', `no route ${request.method} ${path}`);
    reply.header('Allow', allowed.join(', '));
    return sendError(reply, 'ERR_METHOD_NOT_ALLOWED', `${path} answers ${allowed.join(', ')}, not ${request.method}`);
  });
  // Computed at the first request: the port (0 in config) is known only once the server listens.
  let hostValues: ReadonlySet<string> | undefined;
  if (!config.allowedHosts?.includes('*')) {
    checkHost(app, () => (hostValues ??= allowedHostValues(config.allowedHosts, config.host, (app.server.address() as AddressInfo).port)));
  }
  if (config.token) requireToken(app, config.token);
  app.addHook('preClose', async () => {
    for (const stream of streams) stream.end();
  });
  return app;
}

function checkingInterval(config: ServiceConfig): number {
  const shortest = config.requestTimeoutMs > 0 ? Math.min(config.requestTimeoutMs, config.headersTimeoutMs) : config.headersTimeoutMs;
  return Math.max(10, Math.min(1000, Math.floor(shortest / 10)));
}
