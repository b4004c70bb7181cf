import { fileURLToPath } from 'node:url';
import { messageOf } from '../../shared/errors.ts';
import type { Provider, ProviderFactory } from '../../shared/service/provider.ts';
import { importUserModule } from '../typescript.ts';

const METHODS = ['startSession', 'sendTurn', 'interruptTurn', 'respondToApproval', 'respondToUserInput', 'stopSession'] as const;

/**
 * Imports a provider module and builds this worker's provider from its default export (a factory).
 * Every message names the module's path: it surfaces as the pool's HandlerLoadError, which names the
 * reactor, and the service reports it as a bad --handler.
 */
export async function loadProvider(url: string, shard: number): Promise<Provider> {
  const path = url.startsWith('file:') ? fileURLToPath(url) : url;
  let mod: { default?: unknown };
  try {
    mod = (await importUserModule(url)) as { default?: unknown };
  } catch (error) {
    throw new Error(`cannot load provider module ${path}: ${messageOf(error)}`);
  }
  const factory = mod.default;
  if (typeof factory !== 'function') {
    throw new TypeError(`provider module ${path} must default-export a factory function ({ shard }) => Provider`);
  }
  let provider: Partial<Provider> | null;
  try {
    provider = (await (factory as ProviderFactory)({ shard })) as Partial<Provider> | null;
  } catch (error) {
    throw new Error(`the factory of provider module ${path} failed: ${messageOf(error)}`);
  }
  const missing = METHODS.filter((method) => typeof provider?.[method] !== 'function');
  if (missing.length > 0) throw new TypeError(`provider from ${path} lacks ${missing.join(', ')}`);
  return provider as Provider;
}
