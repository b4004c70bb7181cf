/**
 * `startService`: the provider command reactor as an HTTP service, put together from its parts: the
 * pool (service-pool.ts), the app (app.ts), the intent backend, the routes, and the Service object
 * that owns start and stop (running-service.ts). This is the one file that picks the intent backend.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { ServerResponse } from 'node:http';
import { startOtlpExport } from '../../shared/otlp-export.ts';
import { SHARD_RESTART_CHANNEL, type ShardRestartEvent } from '../channels.ts';
import { JetStreamMode, defaultInstanceId } from '../jetstream/mode.ts';
import { AgentProcesses } from './agent-processes.ts';
import { buildApp } from './app.ts';
import type { ServiceConfig } from './config.ts';
import { Dispatcher } from './dispatcher.ts';
import type { IntentBackend } from './intent-backend.ts';
import { MemoryIntents } from './memory-intents.ts';
import { ServiceMetrics } from './metrics.ts';
import { IntentRecords } from './records.ts';
import type { RouteContext } from './route-context.ts';
import { consoleRoutes } from './routes/console.ts';
import { intentRoutes } from './routes/intents.ts';
import { operationRoutes } from './routes/operations.ts';
import { threadRoutes } from './routes/threads.ts';
import { RunningService, type Service } from './running-service.ts';
import { startServicePool } from './service-pool.ts';
import { ThreadEvents, sequenceStart } from './thread-events.ts';

export type { Service } from './running-service.ts';

/** How long a /metrics scrape waits for each worker's report; a frozen worker is left out, not waited for. */
const WORKER_REPORT_TIMEOUT_MS = 1000;

export async function startService(config: ServiceConfig): Promise<Service> {
  // Loaded only with an endpoint: otherwise the intent spans stay no-ops and nothing is exported.
  const stopExport = config.otlpEndpoint ? await startOtlpExport(config.otlpEndpoint) : undefined;
  // Agent processes (--provider codex or acp) are known here too, so that none outlives its worker or the service.
  const agents = config.provider === 'codex' || config.provider === 'acp' ? new AgentProcesses({ stopGraceMs: config.agentStopGraceMs }) : undefined;
  const pool = await startServicePool(config, agents).catch(async (error: unknown) => {
    await agents?.stop();
    await stopExport?.();
    throw error;
  });

  const records = new IntentRecords({ maxSettled: config.recordsMax, maxAgeMs: config.recordsMaxAgeMs });
  // JetStream mode: ids are the events stream's sequence, and its feed says where they start.
  const events = new ThreadEvents({
    perThread: config.eventsPerThread, maxAgeMs: config.eventsMaxAgeMs, maxThreads: config.eventsMaxThreads, maxBytes: config.eventsMaxBytes,
  }, config.nats === undefined ? sequenceStart() : 0);
  const streams = new Set<ServerResponse>();
  let dispatcher!: Dispatcher;
  let jetstream: JetStreamMode | undefined;
  const metrics = new ServiceMetrics({
    stats: () => pool.stats(),
    stuckLanes: () => dispatcher.stuckLanes(config.stuckAfterMs),
    events: () => events.stats(),
    workers: () => pool.inspect({ timeoutMs: WORKER_REPORT_TIMEOUT_MS }),
    ...(config.nats ? { jetstream: () => jetstream && {
      owned: jetstream.owned().length, inflight: jetstream.inflight(), connected: jetstream.connected ? 1 : 0, ...jetstream.counters, ...jetstream.leaseCounts,
    } } : {}),
  });
  dispatcher = new Dispatcher(pool, records, events, metrics, { maxBytes: config.maxQueuedBytes, maxBytesPerThread: config.maxQueuedBytesPerThread });
  const app = buildApp(config, streams);

  // The channel is process-wide: log only this service's pool.
  const onRestart = (message: unknown): void => {
    const { pool: from, shard, reason, detail, replayed } = message as ShardRestartEvent;
    if (from === pool) app.log.warn({ shard, reason, detail, replayed }, 'shard worker replaced');
  };
  subscribe(SHARD_RESTART_CHANNEL, onRestart);
  // Called once the pool is closed: no worker is left to stop its own agent processes.
  const release = async (): Promise<void> => {
    await agents?.stop();
    unsubscribe(SHARD_RESTART_CHANNEL, onRestart);
    events.close();
    await stopExport?.();
  };

  // The one place that picks where intents live: routes and dispatcher see only the IntentBackend.
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
        events: { maxAgeMs: config.eventsMaxAgeMs, maxBytes: config.eventsMaxBytes },
      }, { dispatcher, events, shardOf: (threadId) => pool.shardOf(threadId), log: app.log });
    } catch (error) {
      await pool.close({ force: true });
      await release();
      throw error;
    }
  }
  const intents: IntentBackend = jetstream ?? new MemoryIntents(dispatcher, records, events);

  const service = new RunningService({ config, app, pool, intents, release });
  const ctx: RouteContext = { config, pool, dispatcher, records, intents, metrics, streams, state: () => service.state() };
  intentRoutes(app, ctx);
  threadRoutes(app, ctx);
  operationRoutes(app, ctx);
  consoleRoutes(app, ctx);

  await service.start();
  app.log.info({
    url: service.url, shards: config.shards, provider: config.handler ?? 'simulator',
    ...(jetstream
      ? { nats: config.nats, instance: jetstream.settings.instanceId, partitions: jetstream.owned() }
      : { maxQueuedBytes: config.maxQueuedBytes, maxQueuedBytesPerThread: config.maxQueuedBytesPerThread }),
  }, 'lanepool service listening');
  return service;
}
