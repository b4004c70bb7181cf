/**
 * The `Host` header check. A loopback service without a token is otherwise reachable from any web
 * page through DNS rebinding: the page's own name is made to resolve to 127.0.0.1, and the browser,
 * thinking it talks to the page's origin, sends `Host: evil.example`. Refusing unknown Host values
 * closes that door whatever the token setting.
 */
import type { FastifyInstance } from 'fastify';
import { sendError } from './http-errors.ts';
import { OPEN_ROUTES } from './auth.ts';

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'];

/**
 * The Host values to accept: each entry as given, and an entry without a port also with `port`.
 * `allowed` undefined means the bound host and the loopback names. (`*` is handled by not checking.)
 */
export function allowedHostValues(allowed: string[] | undefined, host: string, port: number): Set<string> {
  const bound = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  const names = allowed ?? [bound.toLowerCase(), ...LOOPBACK_NAMES];
  const values = new Set<string>();
  for (const name of names) {
    values.add(name);
    if (!/:\d+$/.test(name)) values.add(`${name}:${port}`);
  }
  return values;
}

/**
 * Refuses, with 421 ERR_HOST_NOT_ALLOWED, a request whose Host is not in `values()`; /healthz is open
 * (a liveness probe by IP address tells nothing). `values` is called per request because the port
 * is known only once the server listens.
 */
export function checkHost(app: FastifyInstance, values: () => ReadonlySet<string>): void {
  app.addHook('onRequest', async (request, reply) => {
    if (OPEN_ROUTES.has(request.routeOptions.url ?? '')) return;
    const host = request.headers.host?.toLowerCase();
    if (host !== undefined && values().has(host)) return;
    reply.header('Connection', 'close');
    return sendError(reply, 'ERR_HOST_NOT_ALLOWED', `Host ${JSON.stringify(request.headers.host ?? '')} is not allowed; add it to --allowed-hosts`);
  });
}
