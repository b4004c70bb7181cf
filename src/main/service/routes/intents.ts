/** POST /v1/threads/:threadId/intents and GET /v1/intents/:intentId. */
import type { FastifyInstance } from 'fastify';
import { INTENT_TYPES, payloadSchemas } from '../../../shared/intents.ts';
import type { Submission } from '../dispatcher.ts';
import { sendError } from '../http-errors.ts';
import type { IntentRecord } from '../records.ts';
import { INTENT_ID_PATTERN, threadParams, type RouteContext } from '../route-context.ts';

const bodySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['type', 'payload'],
  properties: {
    type: { enum: INTENT_TYPES },
    payload: { type: 'object' },
    intentId: { type: 'string', pattern: INTENT_ID_PATTERN },
  },
  // Each type's payload schema applies only to that type.
  allOf: INTENT_TYPES.map((type) => ({
    if: { required: ['type'], properties: { type: { const: type } } },
    then: { properties: { payload: payloadSchemas[type] } },
  })),
};

const waitQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { wait: { enum: ['true', 'false', '1', '0'] } },
};

export function intentRoutes(app: FastifyInstance, ctx: RouteContext): void {
  app.post<{ Params: { threadId: string }; Querystring: { wait?: string }; Body: Submission }>(
    '/v1/threads/:threadId/intents',
    { schema: { params: threadParams, querystring: waitQuery, body: bodySchema } },
    async (request, reply) => {
      if (ctx.state() !== 'ready') return sendError(reply, 'ERR_SHUTTING_DOWN', 'the service is not accepting intents');
      const { threadId } = request.params;
      const wait = request.query.wait === 'true' || request.query.wait === '1';
      const result = ctx.dispatcher.submit(threadId, request.body);
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
      const record: IntentRecord | undefined = ctx.records.get(request.params.intentId);
      if (record === undefined) return sendError(reply, 'ERR_INTENT_NOT_FOUND', `no intent ${request.params.intentId} (never submitted, or its record has expired)`);
      return record;
    },
  );
}

