/**
 * The provider command reactor as an HTTP service: a LanePool keyed by threadId whose handler is the
 * reactor (src/worker/reactor.ts), driving the built-in simulator or the user's provider module.
 */
import type { ServerResponse } from 'node:http';
import { pathToFileURL } from 'node:url';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { ReactorTask } from '../../shared/intents.ts';
import { ownModule } from '../../shared/module-url.ts';
import type { ReactorData } from '../../shared/provider.ts';
import { JetStreamMode, defaultInstanceId } from '../jetstream/mode.ts';
import { LanePool } from '../pool.ts';
import { requireToken } from './auth.ts';
import type { ServiceConfig } from './config.ts';
import { Dispatcher } from './dispatcher.ts';
import { handleError, sendError } from './http-errors.ts';
import { ServiceMetrics } from './metrics.ts';
import { IntentRecords } from './records.ts';
import type { RouteContext, ServiceState } from './route-context.ts';
import { intentRoutes } from './routes/intents.ts';
import { operationRoutes } from './routes/operations.ts';
import { threadRoutes } from './routes/threads.ts';
import { ThreadEvents } from './thread-events.ts';

/** reactor.js from dist/, so the service's workers need no TypeScript loader. */
const REACTOR = ownModule('../../worker/reactor.ts', import.meta.url);

export interface Service {
  /** e.g. http://127.0.0.1:8787 */
  readonly url: string;
  readonly app: FastifyInstance;
  readonly pool: LanePool<ReactorTask, unknown>;
  state(): ServiceState;
  /**
   * Stops accepting intents (503), drains for up to `graceMs`, cancels what is left (reason
   * `service shutting down`), closes the pool and the server. Idempotent.
   */
  shutdown(): Promise<void>;
}

export async function startService(config: ServiceConfig): Promise<Service> {
  const handlerData: ReactorData = {
    ...(config.handler ? { provider: pathToFileURL(config.handler).href } : {}),
    simulator: { startMs: config.simStartMs, sendMs: config.simSendMs, interruptMs: config.simInterruptMs, stopMs: config.simStopMs },
  };
  // In JetStream mode the stream holds the backlog and --max-ack-pending bounds what each partition
  // hands the pool, so the pool must never refuse what a consumer already took.
  const jetStreamBacklog = config.natsPartitions * config.maxAckPending + 1000;
  const pool = new LanePool<ReactorTask, unknown>({
    handler: REACTOR,
    shards: config.shards,
    taskTimeoutMs: config.taskTimeoutMs,
    maxQueuedPerKey: config.nats ? jetStreamBacklog : config.maxQueuedPerThread,
    maxQueued: config.nats ? jetStreamBacklog : config.maxQueued,
    stallTimeoutMs: config.stallTimeoutMs,
    handlerData,
  });
  try {
    await pool.ready();
  } catch (error) {
    await pool.close({ force: true });
    throw error;
  }

  let state: ServiceState = 'starting';
  const records = new IntentRecords({ maxSettled: config.recordsMax, maxAgeMs: config.recordsMaxAgeMs });
  const events = new ThreadEvents();
  const streams = new Set<ServerResponse>();
  let dispatcher!: Dispatcher;
  let jetstream: JetStreamMode | undefined;
  const metrics = new ServiceMetrics({
    stats: () => pool.stats(),
    stuckLanes: () => dispatcher.stuckLanes(config.stuckAfterMs),
    ...(config.nats ? { jetstream: () => jetstream && {
      owned: jetstream.owned().length, inflight: jetstream.inflight(), connected: jetstream.connected ? 1 : 0, ...jetstream.counters, ...jetstream.leaseCounts,
    } } : {}),
  });
  dispatcher = new Dispatcher(pool, records, events, metrics);

  const app = Fastify({
    logger: { level: config.logLevel },
    // One line per request would swamp the log under load; intents are counted in /metrics instead.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.bodyLimit,
    // Let long threadIds reach the schema (and its 400) instead of the router's 414 at 100 characters.
    routerOptions: { maxParamLength: 1024 },
    // Strict bodies: no type coercion and no silently dropped fields; unknown fields are a 400.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
  });
  // JSON only: without this Fastify would parse text/plain and answer a schema error, not a content-type one.
  app.removeContentTypeParser('text/plain');
  app.setErrorHandler(handleError);
  app.setNotFoundHandler((request, reply) => sendError(reply, 'ERR_NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`));
  if (config.token) requireToken(app, config.token);
  app.addHook('preClose', async () => {
    for (const stream of streams) stream.end();
  });

  if (config.nats !== undefined) {
    try {
      jetstream = await JetStreamMode.start({
        url: config.nats,
        stream: config.natsStream,
        partitions: config.natsPartitions,
        fixed: config.partitions,
        instanceId: config.instanceId ?? defaultInstanceId(),
        leaseTtlMs: config.leaseTtlMs,
        ackWaitMs: config.ackWaitMs,
        maxAckPending: config.maxAckPending,
        handoffTimeoutMs: config.handoffTimeoutMs,
        retentionMs: config.recordsMaxAgeMs,
      }, { dispatcher, shardOf: (threadId) => pool.shardOf(threadId), log: app.log });
    } catch (error) {
      await pool.close({ force: true });
      throw error;
    }
  }

  const ctx: RouteContext = { config, pool, dispatcher, records, events, metrics, streams, jetstream, state: () => state };
  intentRoutes(app, ctx);
  threadRoutes(app, ctx);
  operationRoutes(app, ctx);

  let address: string;
  try {
    address = await app.listen({ port: config.port, host: config.host });
  } catch (error) {
    await jetstream?.stop(0);
    await pool.close({ force: true });
    throw error;
  }
  state = 'ready';
  app.log.info({
    url: address, shards: config.shards, provider: config.handler ?? 'simulator',
    ...(jetstream ? { nats: config.nats, instance: jetstream.settings.instanceId, partitions: jetstream.owned() } : {}),
  }, 'lanepool service listening');

  let shuttingDown: Promise<void> | undefined;
  const shutdown = (): Promise<void> => (shuttingDown ??= (async () => {
    state = 'shutting_down';
    app.log.info({ graceMs: config.graceMs }, 'shutting down: draining');
    // JetStream mode: hand the partitions over first (each drains within the grace period); what is
    // cancelled then was never acknowledged, so the next owner runs it.
    if (jetstream) await jetstream.stop(config.graceMs);
    try {
      await pool.drain({ timeoutMs: config.graceMs });
    } catch {
      const busy = pool.busyKeys();
      app.log.warn({ threads: busy.length }, 'grace period over: cancelling what is left');
      for (const threadId of busy) pool.cancel(threadId, 'service shutting down');
    }
    await pool.close({ force: true });
    // Let ?wait=true requests whose intents just settled write their responses before closing.
    await new Promise((resolve) => setImmediate(resolve));
    await app.close();
    state = 'closed';
    app.log.info('shut down');
  })());

  return { url: address, app, pool, state: () => state, shutdown };
}
