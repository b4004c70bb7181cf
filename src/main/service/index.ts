/**
 * `lanepool/service`: the provider command reactor over HTTP, what `lanepool serve` runs, for programs
 * that start it themselves, and the types a provider module implements. Loads fastify, pino,
 * prom-client, ajv and nats; the `lanepool` entry loads none of them.
 *
 * @example
 * import { resolveConfig, startService } from 'lanepool/service';
 * const service = await startService(resolveConfig({ port: 0, shards: 2 }));
 * console.log(service.url);
 * await service.shutdown();
 */
export { startService, type Service } from './server.ts';
export { configFromArgs, resolveConfig, usage, type ServiceConfig } from './config.ts';
export type { ServiceState } from './route-context.ts';
export type { IntentRecord, IntentStatus } from './records.ts';
export type { ProviderFactory, Provider, ProviderSession } from '../../shared/service/provider.ts';
export type { IntentType } from '../../shared/service/intents.ts';
export { NoSessionError, ProviderError, ProviderExitedError, ConfigError } from '../../shared/errors.ts';
