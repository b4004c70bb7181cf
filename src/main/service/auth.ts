/** Bearer-token check for every route but /healthz, compared in constant time. */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { sendError } from './http-errors.ts';

const OPEN_ROUTES = new Set(['/healthz']);

export function requireToken(app: FastifyInstance, token: string): void {
  // Hash both sides so the comparison takes the same time whatever the length of the guess.
  const expected = createHash('sha256').update(token).digest();
  app.addHook('onRequest', async (request, reply) => {
    if (OPEN_ROUTES.has(request.routeOptions.url ?? '')) return;
    const header = request.headers.authorization;
    const given = typeof header === 'string' && header.startsWith('Bearer ') ? header.slice(7) : undefined;
    if (given !== undefined && timingSafeEqual(createHash('sha256').update(given).digest(), expected)) return;
    reply.header('WWW-Authenticate', 'Bearer');
    return sendError(reply, 'ERR_UNAUTHORIZED', given === undefined ? 'missing bearer token' : 'wrong bearer token');
  });
}
