/** POST /v1/threads/:threadId/intents and GET /v1/intents/:intentId. */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { InvalidIntentError, JetStreamError } from '../../../shared/errors.ts';
import type { StoredIntent } from '../../jetstream/intent-store.ts';
import type { JetStreamMode } from '../../jetstream/mode.ts';
import { INTENT_ID_PATTERN, submissionSchema } from '../../../shared/intents.ts';
import type { Submission } from '../dispatcher.ts';
import { sendError } from '../http-errors.ts';
import type { IntentRecord } from '../records.ts';
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
      const wait = request.query.wait === 'true' || request.query.wait === '1';
      if (ctx.jetstream) return viaJetStream(ctx.jetstream, threadId, request.body, wait, reply);
      const result = ctx.dispatcher.submit(threadId, request.body, { bytes: bodyBytes(request.headers['content-length']) });
      switch (result.kind) {
        case 'refused': {
          const { code, message } = result.error;
          if (code === 'ERR_QUEUE_FULL') {
            reply.header('Retry-After', '1');
            return sendError(reply, 'ERR_QUEUE_FULL', message);
          }
          if (code === 'ERR_HANDLER_LOAD') return sendError(reply, 'ERR_HANDLER_LOAD', message);
          return sendError(reply, 'ERR_SHUTTING_DOWN', message);
        }
        case 'conflict':
          return sendError(reply, 'ERR_INTENT_CONFLICT', `intentId ${result.record.intentId} was already used for ${result.record.type} on thread ${result.record.threadId}`);
        case 'duplicate':
          return reply.code(200).send(wait ? await ctx.dispatcher.whenSettled(result.record) : result.record);
        case 'accepted': {
          const { record } = result;
          if (wait) return reply.code(200).send(await ctx.dispatcher.whenSettled(record));
          return reply.code(202).send({ intentId: record.intentId, threadId, shard: record.shard, status: record.status });
        }
      }
    },
  );

  app.get<{ Params: { intentId: string } }>(
    '/v1/intents/:intentId',
    { schema: { params: { type: 'object', required: ['intentId'], properties: { intentId: { type: 'string', pattern: INTENT_ID_PATTERN } } } } },
    async (request, reply) => {
      const { intentId } = request.params;
      let record: IntentRecord | StoredIntent | undefined;
      try {
        record = ctx.jetstream ? await ctx.jetstream.get(intentId) : ctx.records.get(intentId);
      } catch (error) {
        if (error instanceof JetStreamError) return sendError(reply, 'ERR_JETSTREAM', error.message);
        throw error;
      }
      if (record === undefined) return sendError(reply, 'ERR_INTENT_NOT_FOUND', `no intent ${request.params.intentId} (never submitted, or its record has expired)`);
      return record;
    },
  );
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

/**
 * JetStream mode: the intent is published to its partition and runs on whichever instance owns it.
 * 202 means it is stored in the stream; `?wait=true` follows its record until it settles.
 */
async function viaJetStream(jetstream: JetStreamMode, threadId: string, body: Submission, wait: boolean, reply: FastifyReply): Promise<FastifyReply> {
  // Listening from the start: a client gone while the publish is under way must still end the wait.
  const gone = new AbortController();
  if (wait) reply.raw.once('close', () => gone.abort());
  let result;
  try {
    result = await jetstream.publish({ threadId, ...body });
  } catch (error) {
    if (error instanceof InvalidIntentError && error.tooLarge) return sendError(reply, 'ERR_BODY_TOO_LARGE', error.message);
    if (!(error instanceof JetStreamError)) throw error;
    reply.header('Retry-After', '1');
    return sendError(reply, 'ERR_JETSTREAM', error.message);
  }
  const { record } = result;
  if (result.kind === 'conflict') {
    return sendError(reply, 'ERR_INTENT_CONFLICT', `intentId ${record.intentId} was already used for ${record.type} on thread ${record.threadId}`);
  }
  if (wait) {
    const settled = await jetstream.whenSettled(record.intentId, gone.signal).catch(() => undefined);
    return reply.code(200).send(settled ?? record);
  }
  if (result.kind === 'duplicate') return reply.code(200).send(record);
  return reply.code(202).send({ intentId: record.intentId, threadId, partition: record.partition, status: record.status });
}
