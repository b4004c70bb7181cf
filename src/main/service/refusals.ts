/**
 * The one place a refused intent becomes an HTTP answer, whichever backend refused it (an
 * `IntentBackend` returns refusals as errors with a `code`; see intent-backend.ts).
 */
import type { FastifyReply } from 'fastify';
import { InvalidIntentError } from '../../shared/errors.ts';
import { sendError, type HttpErrorCode } from './http-errors.ts';

/**
 * The HTTP error for a refusal, and whether to ask the client to retry (`Retry-After: 1`): a full
 * queue drains and JetStream reconnects, while a provider that does not load or a pool that is
 * closing will not be better in a second.
 */
export function refusalOf(error: Error & { code?: string }): { code: HttpErrorCode; retry: boolean } {
  switch (error.code) {
    case 'ERR_QUEUE_FULL':
      return { code: 'ERR_QUEUE_FULL', retry: true };
    case 'ERR_JETSTREAM':
      return { code: 'ERR_JETSTREAM', retry: true };
    case 'ERR_HANDLER_LOAD':
      return { code: 'ERR_HANDLER_LOAD', retry: false };
  }
  // Valid, but over the NATS server's max_payload: no retry can store it.
  if (error instanceof InvalidIntentError && error.tooLarge) return { code: 'ERR_BODY_TOO_LARGE', retry: false };
  // ERR_SHUTTING_DOWN, ERR_POOL_CLOSED and whatever else the pool refuses with while it closes.
  return { code: 'ERR_SHUTTING_DOWN', retry: false };
}

export function sendRefusal(reply: FastifyReply, error: Error & { code?: string }): FastifyReply {
  const { code, retry } = refusalOf(error);
  if (retry) reply.header('Retry-After', '1');
  return sendError(reply, code, error.message);
}
