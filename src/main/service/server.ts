/**
 * The provider command reactor as an HTTP service: a LanePool keyed by threadId whose handler is the
 * reactor (src/worker/reactor.ts), driving the built-in simulator or the user's provider module.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import { ConfigError, HandlerLoadError } from '../../shared/errors.ts';
import type { ReactorTask } from '../../shared/intents.ts';
import { ownModule } from '../../shared/module-url.ts';
import { startOtlpExport } from '../../shared/otlp-export.ts';
import type { ReactorData, SessionLimits } from '../../shared/provider.ts';
import { SHARD_RESTART_CHANNEL, type ShardRestartEvent } from '../channels.ts';
import { JetStreamMode, defaultInstanceId } from '../jetstream/mode.ts';
import { LanePool } from '../pool.ts';
import { requireToken } from './auth.ts';
import type { ServiceConfig } from './config.ts';
import { Dispatcher } from './dispatcher.ts';
import { allowedHostValues, checkHost } from './host-check.ts';
import { handleError, handleFrameworkError, sendError } from './http-errors.ts';
import { ServiceMetrics } from './metrics.ts';
import { IntentRecords } from './records.ts';
import type { RouteContext, ServiceState } from './route-context.ts';
import { RouteMethods } from './route-methods.ts';
import { consoleRoutes } from './routes/console.ts';
import { intentRoutes } from './routes/intents.ts';
import { operationRoutes } from './routes/operations.ts';
import { threadRoutes } from './routes/threads.ts';
import { ThreadEvents } from './thread-events.ts';

/** reactor.js from dist/, so the service's workers need no TypeScript loader. */
const REACTOR = ownModule('../../worker/reactor.ts', import.meta.url);
/** How long a /metrics scrape waits for each worker's report; a frozen worker is left out, not waited for. */
const WORKER_REPORT_TIMEOUT_MS = 1000;

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

/** The reactor's session bounds, from the flags. */
export function sessionLimits(config: ServiceConfig): SessionLimits {
  return { maxPerWorker: config.maxSessionsPerWorker, idleMs: config.sessionIdleMs, maxResumeCursors: config.maxResumeCursorsPerWorker };
}

/** listen() errors that mean the --host value names no address of this machine. */
const BAD_HOST_CODES = new Set(['EADDRNOTAVAIL', 'ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NONAME', 'EINVAL']);

/**
 * The provider module is loaded by the reactor's `init`, so the pool's HandlerLoadError names
 * reactor.ts; the user needs to hear about their own module, as a bad --handler value.
 */
function providerLoadError(handler: string, error: HandlerLoadError): ConfigError {
  // The pool names its own option; the user of the service knows it as a flag.
  const reason = error.detail.replace(/^init failed: /, '').replace('(loadTimeoutMs)', '(--handler-load-timeout-ms)');
  return new ConfigError({ detail: `invalid --handler (LANEPOOL_HANDLER): ${reason.includes(handler) ? reason : `cannot load ${handler}: ${reason}`}` });
}

function checkingInterval(config: ServiceConfig): number {
  const shortest = config.requestTimeoutMs > 0 ? Math.min(config.requestTimeoutMs, config.headersTimeoutMs) : config.headersTimeoutMs;
  return Math.max(10, Math.min(1000, Math.floor(shortest / 10)));
}

export async function startService(config: ServiceConfig): Promise<Service> {
  const handlerData: ReactorData = {
    ...(config.handler ? { provider: pathToFileURL(config.handler).href } : {}),
    simulator: { startMs: config.simStartMs, sendMs: config.simSendMs, interruptMs: config.simInterruptMs, stopMs: config.simStopMs },
    sessions: sessionLimits(config),
    ...(config.otlpEndpoint ? { otlpEndpoint: config.otlpEndpoint } : {}),
  };
  // Loaded only with an endpoint: otherwise the intent spans stay no-ops and nothing is exported.
  const stopExport = config.otlpEndpoint ? await startOtlpExport(config.otlpEndpoint) : undefined;
  // In JetStream mode the stream holds the backlog and --max-ack-pending bounds what each partition
  // hands the pool, so the pool must never refuse what a consumer already took: no bound of its own.
  const jetStreamBacklog = config.natsPartitions * config.maxAckPending + 1000;
  const pool = new LanePool<ReactorTask, unknown>({
    handler: REACTOR,
    shards: config.shards,
    taskTimeoutMs: config.taskTimeoutMs,
    maxQueuedPerKey: config.nats ? jetStreamBacklog : config.maxQueuedPerThread,
    maxQueued: config.nats ? jetStreamBacklog : config.maxQueued,
    maxQueuedBytes: config.nats ? Number.MAX_SAFE_INTEGER : config.maxQueuedBytes,
    maxQueuedBytesPerKey: config.nats ? Number.MAX_SAFE_INTEGER : config.maxQueuedBytesPerThread,
    maxQueuedControl: config.nats ? jetStreamBacklog : config.maxQueuedControl,
    stallTimeoutMs: config.stallTimeoutMs,
    loadTimeoutMs: config.handlerLoadTimeoutMs,
    handlerData,
  });
  try {
    await pool.ready();
  } catch (error) {
    await pool.close({ force: true });
    await stopExport?.();
    throw config.handler && error instanceof HandlerLoadError ? providerLoadError(config.handler, error) : error;
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
    workers: () => pool.inspect({ timeoutMs: WORKER_REPORT_TIMEOUT_MS }),
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
    frameworkErrors: handleFrameworkError,
    // Node's request timeout covers receiving the request (headers and body), not the response, so
    // ?wait=true and the SSE stream are not cut by it. No socket idle timeout (Fastify's
    // connectionTimeout) for the same reason: a ?wait=true request is silent until its intent settles.
    requestTimeout: config.requestTimeoutMs,
    keepAliveTimeout: config.keepAliveTimeoutMs,
    http: {
      headersTimeout: config.headersTimeoutMs,
      requestTimeout: config.requestTimeoutMs,
      // Node checks those two timeouts on this interval (30 s by default), so a 30 s timeout could
      // take a minute to fire; a tenth of the shorter one keeps the overshoot small.
      connectionsCheckingInterval: checkingInterval(config),
    },
  });
  // JSON only: without this Fastify would parse text/plain and answer a schema error, not a content-type one.
  app.removeContentTypeParser('text/plain');
  app.setErrorHandler(handleError);
  const methods = new RouteMethods(app);
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0]!;
    const allowed = methods.allowed(path);
    if (allowed.length === 0) return sendError(reply, 'ERR_NOT_FOUND', `no route ${request.method} ${path}`);
    reply.header('Allow', allowed.join(', '));
    return sendError(reply, 'ERR_METHOD_NOT_ALLOWED', `${path} answers ${allowed.join(', ')}, not ${request.method}`);
  });
  // Computed at the first request: the port (0 in config) is known only once the server listens.
  let hostValues: ReadonlySet<string> | undefined;
  if (!config.allowedHosts?.includes('*')) {
    checkHost(app, () => (hostValues ??= allowedHostValues(config.allowedHosts, config.host, (app.server.address() as AddressInfo).port)));
  }
  if (config.token) requireToken(app, config.token);
  app.addHook('preClose', async () => {
    for (const stream of streams) stream.end();
  });
  // The channel is process-wide: log only this service's pool.
  const onRestart = (message: unknown): void => {
    const { pool: from, shard, reason, detail, replayed } = message as ShardRestartEvent;
    if (from === pool) app.log.warn({ shard, reason, detail, replayed }, 'shard worker replaced');
  };
  subscribe(SHARD_RESTART_CHANNEL, onRestart);
  const stopLogging = (): void => void unsubscribe(SHARD_RESTART_CHANNEL, onRestart);

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
      stopLogging();
      await pool.close({ force: true });
      throw error;
    }
  }

  const ctx: RouteContext = { config, pool, dispatcher, records, events, metrics, streams, jetstream, state: () => state };
  intentRoutes(app, ctx);
  threadRoutes(app, ctx);
  operationRoutes(app, ctx);
  consoleRoutes(app, ctx);

  let address: string;
  try {
    address = await app.listen({ port: config.port, host: config.host });
  } catch (error) {
    stopLogging();
    await jetstream?.stop(0);
    await pool.close({ force: true });
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' && BAD_HOST_CODES.has(code)) {
      throw new ConfigError({ detail: `invalid --host (LANEPOOL_HOST): cannot listen on ${JSON.stringify(config.host)}: ${(error as Error).message}` });
    }
    throw error;
  }
  state = 'ready';
  app.log.info({
    url: address, shards: config.shards, provider: config.handler ?? 'simulator',
    ...(jetstream
      ? { nats: config.nats, instance: jetstream.settings.instanceId, partitions: jetstream.owned() }
      : { maxQueuedBytes: config.maxQueuedBytes, maxQueuedBytesPerThread: config.maxQueuedBytesPerThread }),
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
    stopLogging();
    // Let ?wait=true requests whose intents just settled write their responses before closing.
    await new Promise((resolve) => setImmediate(resolve));
    await app.close();
    await stopExport?.(); // flushes the spans of the last intents
    state = 'closed';
    app.log.info('shut down');
  })());

  return { url: address, app, pool, state: () => state, shutdown };
}
