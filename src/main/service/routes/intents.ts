/** POST /v1/threads/:threadId/intents and GET /v1/intents/:intentId. */
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

export function intentRoutes(app: FastifyInstance, ctx: RouteContext): void {
  app.post<{ Params: { threadId: string }; Querystring: { wait?: string }; Body: Submission }>(
    '/v1/threads/:threadId/intents',
    { schema: { params: threadParams, querystring: waitQuery, body: submissionSchema } },
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
      const gone = new AbortController();
      if (wait) reply.raw.once('close', () => gone.abort());
      const result = await ctx.intents.submit(threadId, request.body, { bytes: bodyBytes(request.headers['content-length']) });
      if (result.kind === 'refused') return sendRefusal(reply, result.error);
      const { record } = result;
      if (result.kind === 'conflict') return sendError(reply, 'ERR_INTENT_CONFLICT', conflictMessage(record));
      if (wait) {
        // A wait that fails (the backend unreachable) answers the record as it was accepted.
        const settled = await ctx.intents.whenSettled(record, gone.signal).catch(() => undefined);
        return reply.code(200).send(settled ?? record);
      }
      if (result.kind === 'duplicate') return reply.code(200).send(record);
      return reply.code(202).send({ intentId: record.intentId, threadId, ...placed(record), status: record.status });
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

/** Where an accepted intent waits: its stream partition if it has one (JetStream mode), else its shard here. */
function placed(record: IntentRecord): { partition: number } | { shard: number | undefined } {
  return record.partition !== undefined ? { partition: record.partition } : { shard: record.shard };
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
