/**
 * Every error the HTTP API answers with: `{ error: { code, message } }` and a stable code. A test
 * checks these codes against the README's HTTP errors table. No request may produce a 5xx except
 * ERR_INTERNAL, which is a bug.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';

export const HTTP_ERRORS = {
  ERR_VALIDATION: 400,
  ERR_INVALID_JSON: 400,
  ERR_UNSUPPORTED_CONTENT_TYPE: 400,
  ERR_BAD_REQUEST: 400,
  ERR_INVALID_CWD: 400,
  ERR_UNAUTHORIZED: 401,
  ERR_NOT_FOUND: 404,
  ERR_METHOD_NOT_ALLOWED: 405,
  ERR_INTENT_NOT_FOUND: 404,
  ERR_INTENT_CONFLICT: 409,
  ERR_BODY_TOO_LARGE: 413,
  ERR_HOST_NOT_ALLOWED: 421,
  ERR_QUEUE_FULL: 429,
  ERR_SHUTTING_DOWN: 503,
  ERR_HANDLER_LOAD: 503,
  ERR_JETSTREAM: 503,
  ERR_DRAIN_TIMEOUT: 504,
  ERR_INTERNAL: 500,
} as const;

export type HttpErrorCode = keyof typeof HTTP_ERRORS;

export function sendError(reply: FastifyReply, code: HttpErrorCode, message: string, extra?: Record<string, unknown>): FastifyReply {
  return reply.code(HTTP_ERRORS[code]).send({ error: { code, message }, ...extra });
}

/**
 * Fastify's `frameworkErrors`: what the router refuses before any hook runs (a path that does not
 * percent-decode, such as `/v1/threads/%ZZ/intents`). Answered in our shape; nothing past the router
 * is reached, so answering before the Host and token checks gives nothing away.
 */
export function handleFrameworkError(error: FastifyError, _request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (error.code === 'FST_ERR_BAD_URL') return sendError(reply, 'ERR_BAD_REQUEST', 'the URL path is not valid percent-encoding');
  if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') return sendError(reply, 'ERR_BAD_REQUEST', 'a path segment is over 1024 characters');
  return sendError(reply, 'ERR_BAD_REQUEST', 'the router refused the request');
}

/** Fastify's error handler: maps framework errors (schema, parsing, size) to our codes. */
export function handleError(error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (error.validation) return sendError(reply, 'ERR_VALIDATION', error.message);
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return sendError(reply, 'ERR_BODY_TOO_LARGE', error.message);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return sendError(reply, 'ERR_UNSUPPORTED_CONTENT_TYPE', 'Content-Type must be application/json');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return sendError(reply, 'ERR_INVALID_JSON', error.message);
  }
  if (error instanceof SyntaxError) return sendError(reply, 'ERR_INVALID_JSON', `invalid JSON: ${error.message}`);
  const status = error.statusCode ?? 500;
  if (status >= 400 && status < 500) return reply.code(status).send({ error: { code: 'ERR_BAD_REQUEST', message: error.message } });
  request.log.error({ err: error }, 'unhandled error');
  return sendError(reply, 'ERR_INTERNAL', 'internal error');
}
