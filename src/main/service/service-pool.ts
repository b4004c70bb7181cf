/**
 * The service's pool: a LanePool keyed by threadId whose handler is the reactor
 * (src/worker/service/reactor.ts), driving the built-in simulator or the user's provider module, sized and
 * bounded from the flags.
 */
import { resolve as resolvePath } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError, HandlerLoadError } from '../../shared/errors.ts';
import type { ReactorTask } from '../../shared/service/intents.ts';
import { ownModule } from '../../shared/module-url.ts';
import type { AgentSettings, ReactorData, SessionLimits } from '../../shared/service/provider.ts';
import { LanePool } from '../pool.ts';
import type { AgentProcesses } from './agent-processes.ts';
import type { ServiceConfig } from './config.ts';

/** reactor.js from dist/, so the service's workers need no TypeScript loader. */
const REACTOR = ownModule('../../worker/service/reactor.ts', import.meta.url);

export type ServicePool = LanePool<ReactorTask, unknown>;

/** The reactor's session bounds, from the flags. */
export function sessionLimits(config: ServiceConfig): SessionLimits {
  return { maxPerWorker: config.maxSessionsPerWorker, idleMs: config.sessionIdleMs, maxResumeCursors: config.maxResumeCursorsPerWorker };
}

/** The settings of a built-in agent provider (`--provider codex` or `acp`). */
export function agentSettings(config: ServiceConfig, registry?: string): AgentSettings {
  const line = config.provider === 'codex' ? config.codexCommand : (config.agentCommand ?? '');
  return {
    protocol: config.provider === 'codex' ? 'codex' : 'acp',
    command: splitCommand(line),
    workspaceRoot: config.workspaceRoot,
    stopGraceMs: config.agentStopGraceMs,
    ...(registry !== undefined ? { registry } : {}),
  };
}

/**
 * An agent command line as program and arguments: split on spaces (no shell, no quoting). A part
 * that starts with `./` or `../` is resolved against the directory the service started in, because
 * the agent itself runs in its session's working directory, where such a path would mean nothing.
 */
export function splitCommand(line: string): string[] {
  return line.split(' ').filter((part) => part !== '').map((part) => (/^\.\.?\//.test(part) ? resolvePath(part) : part));
}

/**
 * Starts the pool and waits until every worker has loaded the provider. With `agents`, the workers
 * announce their agent processes to it, and it follows the pool's shards from the start.
 * @throws ConfigError naming --handler if the provider module does not load; the pool is closed then.
 */
export async function startServicePool(config: ServiceConfig, agents?: AgentProcesses): Promise<ServicePool> {
  const handlerData: ReactorData = {
    ...(config.handler ? { provider: pathToFileURL(config.handler).href } : {}),
    ...(config.provider === 'codex' || config.provider === 'acp' ? { agent: agentSettings(config, agents?.channelName) } : {}),
    simulator: { startMs: config.simStartMs, sendMs: config.simSendMs, interruptMs: config.simInterruptMs, stopMs: config.simStopMs },
    sessions: sessionLimits(config),
    ...(config.otlpEndpoint ? { otlpEndpoint: config.otlpEndpoint } : {}),
  };
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
  agents?.watch(pool);
  try {
    await pool.ready();
  } catch (error) {
    await pool.close({ force: true });
    if (error instanceof HandlerLoadError && handlerData.agent !== undefined) throw agentLoadError(config, error);
    throw config.handler && error instanceof HandlerLoadError ? providerLoadError(config.handler, error) : error;
  }
  return pool;
}

/**
 * The provider module is loaded by the reactor's `init`, so the pool's HandlerLoadError names
 * reactor.ts; the user needs to hear about their own module, as a bad --handler value.
 */
function providerLoadError(handler: string, error: HandlerLoadError): ConfigError {
  // The pool names its own option; the user of the service knows it as a flag.
  const reason = error.detail.replace(/^init failed: /, '').replace('(loadTimeoutMs)', '(--handler-load-timeout-ms)');
  return new ConfigError({ detail: `invalid --handler (LANEPOOL_HANDLER): ${reason.includes(handler) ? reason : `cannot load ${handler}: ${reason}`}` });
}

/** A built-in agent provider that did not load (its program is missing): a bad --codex-command or --agent-command. */
function agentLoadError(config: ServiceConfig, error: HandlerLoadError): ConfigError {
  const flag = config.provider === 'codex' ? '--codex-command (LANEPOOL_CODEX_COMMAND)' : '--agent-command (LANEPOOL_AGENT_COMMAND)';
  return new ConfigError({ detail: `invalid ${flag}: ${error.detail.replace(/^init failed: /, '')}` });
}
