/** POST /v1/threads/:threadId/intents and GET /v1/intents/:intentId. */
import type { ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { JetStreamError } from '../../../shared/errors.ts';
import { INTENT_ID_PATTERN, submissionSchema } from '../../../shared/service/intents.ts';
import { resolveWorkspaceCwd } from '../../../shared/service/workspace.ts';
import { sendError } from '../http-errors.ts';
import { conflictMessage } from '../idempotency.ts';
import type { Submission } from '../intent-backend.ts';
import type { IntentRecord } from '../records.ts';
import { refusalOf, sendRefusal } from '../refusals.ts';
import { threadParams, type RouteContext } from '../route-context.ts';

const waitQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { wait: { enum: ['true', 'false', '1', '0'] } },
};

/**
 * The 202 answer, compiled by Fastify into a serializer (fast-json-stringify) instead of a
 * `JSON.stringify` per request. Every field the route sends is listed: a field missing here would be
 * dropped silently. Other statuses (the record, errors) are sent as they are.
 */
const acceptedSchema = {
  type: 'object',
  properties: {
    intentId: { type: 'string' },
    threadId: { type: 'string' },
    shard: { type: 'integer' },
    partition: { type: 'integer' },
    status: { type: 'string' },
  },
} as const;

export function intentRoutes(app: FastifyInstance, ctx: RouteContext): void {
  app.post<{ Params: { threadId: string }; Querystring: { wait?: string }; Body: Submission }>(
    '/v1/threads/:threadId/intents',
    { schema: { params: threadParams, querystring: waitQuery, body: submissionSchema, response: { 202: acceptedSchema } } },
    async (request, reply) => {
      if (ctx.state() !== 'ready') return sendError(reply, 'ERR_SHUTTING_DOWN', 'the service is not accepting intents');
      const { threadId } = request.params;
      const body = request.body;
      if (body.type === 'thread.turn.start' && typeof (body.payload as { cwd?: unknown }).cwd === 'string') {
        // Checked again in the worker before an agent is spawned; here so that the client hears it at once.
        const cwd = resolveWorkspaceCwd(ctx.config.workspaceRoot, (body.payload as { cwd: string }).cwd);
        if (!cwd.ok) return sendError(reply, 'ERR_INVALID_CWD', `invalid payload.cwd: ${cwd.reason}`);
      }
      const wait = request.query.wait === 'true' || request.query.wait === '1';
      // Listening from the start: a client gone while the submission is under way must still end the wait.
      const gone = wait ? new ClientGone(reply.raw) : undefined;
      try {
        const result = await ctx.intents.submit(threadId, request.body, { bytes: bodyBytes(request.headers['content-length']) });
        if (result.kind === 'refused') return sendRefusal(reply, result.error);
        const { record } = result;
        if (result.kind === 'conflict') return sendError(reply, 'ERR_INTENT_CONFLICT', conflictMessage(record));
        if (gone) {
          // A wait that fails (the backend unreachable) answers the record as it was accepted.
          const settled = await ctx.intents.whenSettled(record, gone.signal).catch(() => undefined);
          return reply.code(200).send(settled ?? record);
        }
        if (result.kind === 'duplicate') return reply.code(200).send(record);
        return reply.code(202).send(accepted(record, threadId));
      } finally {
        gone?.stopListening();
      }
    },
  );

  app.get<{ Params: { intentId: string } }>(
    '/v1/intents/:intentId',
    { schema: { params: { type: 'object', required: ['intentId'], properties: { intentId: { type: 'string', pattern: INTENT_ID_PATTERN } } } } },
    async (request, reply) => {
      const { intentId } = request.params;
      let record: IntentRecord | undefined;
      try {
        record = await ctx.intents.get(intentId);
      } catch (error) {
        // Mapped like a refused submission, but without Retry-After: only a submission asks for a retry.
        if (error instanceof JetStreamError) return sendError(reply, refusalOf(error).code, error.message);
        throw error;
      }
      if (record === undefined) return sendError(reply, 'ERR_INTENT_NOT_FOUND', `no intent ${request.params.intentId} (never submitted, or its record has expired)`);
      return record;
    },
  );
}

/**
 * A `?wait=true` request's signal: it fires if the client goes away before the answer. It stops
 * listening once the route has its answer, so the response's own `close` at the end of every request
 * does not abort a signal nobody reads: an abort builds a DOMException (with its stack) and dispatches
 * an event, which the profile of `npm run bench -- --only http` showed on every waited request.
 */
class ClientGone {
  readonly #controller = new AbortController();
  readonly #response: ServerResponse;
  readonly #abort = (): void => this.#controller.abort();

  constructor(response: ServerResponse) {
    this.#response = response;
    response.once('close', this.#abort);
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  stopListening(): void {
    this.#response.off('close', this.#abort);
  }
}

/**
 * The 202 body, with where the intent waits: its stream partition if it has one (JetStream mode), else
 * its shard here. Two literals rather than a spread of a third object: one allocation per request.
 */
function accepted(record: IntentRecord, threadId: string): Record<string, unknown> {
  return record.partition !== undefined
    ? { intentId: record.intentId, threadId, partition: record.partition, status: record.status }
    : { intentId: record.intentId, threadId, shard: record.shard, status: record.status };
}

/**
 * What the pool's byte bounds count for a request body, from its Content-Length (exact: Node reads
 * no more and no less): twice the length, because parsed JSON can take two bytes per character (one
 * character outside Latin-1 makes V8 store a whole string that way), and escapes only shrink it. A
 * chunked body has no length; the dispatcher's estimate of the parsed payload counts alone then.
 */
function bodyBytes(header: string | undefined): number | undefined {
  if (header === undefined || !/^\d{1,15}$/.test(header)) return undefined;
  return 2 * Number(header);
}
