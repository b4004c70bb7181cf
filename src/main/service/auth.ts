/** Bearer-token check for every route but /healthz and the console's static page, compared in constant time. */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { sendError } from './http-errors.ts';
import { CONSOLE_PAGE_ROUTES } from './routes/console.ts';

/** Routes that need neither the token nor an allowed Host. */
export const OPEN_ROUTES: ReadonlySet<string> = new Set(['/healthz']);

const BEARER = /^bearer +(\S.*)$/i;

export function requireToken(app: FastifyInstance, token: string): void {
  // Hash both sides so the comparison takes the same time whatever the length of the guess.
  const expected = createHash('sha256').update(token).digest();
  app.addHook('onRequest', async (request, reply) => {
    const route = request.routeOptions.url ?? '';
    // The console's static page carries no data and must load before the user has typed the token.
    if (OPEN_ROUTES.has(route) || CONSOLE_PAGE_ROUTES.has(route)) return;
    // The scheme is case-insensitive (RFC 9110 section 11.1), and one or more spaces may follow it.
    const given = BEARER.exec(request.headers.authorization ?? '')?.[1];
    if (given !== undefined && timingSafeEqual(createHash('sha256').update(given).digest(), expected)) return;
    reply.header('WWW-Authenticate', 'Bearer');
    // Close rather than read the rest of the body: otherwise a client without the token can hold a
    // connection open by trickling a body after its 401, as long as the request timeout allows.
    reply.header('Connection', 'close');
    return sendError(reply, 'ERR_UNAUTHORIZED', given === undefined ? 'missing bearer token' : 'wrong bearer token');
  });
}
