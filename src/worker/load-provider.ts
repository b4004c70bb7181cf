import type { Provider, ProviderFactory } from '../shared/provider.ts';
import { importUserModule } from './typescript.ts';

const METHODS = ['startSession', 'sendTurn', 'interruptTurn', 'respondToApproval', 'respondToUserInput', 'stopSession'] as const;

/** Imports a provider module and builds this worker's provider from its default export (a factory). */
export async function loadProvider(url: string, shard: number): Promise<Provider> {
  const mod = (await importUserModule(url)) as { default?: unknown };
  const factory = mod.default;
  if (typeof factory !== 'function') {
    throw new TypeError(`provider module ${url} must default-export a factory function ({ shard }) => Provider`);
  }
  const provider = (await (factory as ProviderFactory)({ shard })) as Partial<Provider> | null;
  const missing = METHODS.filter((method) => typeof provider?.[method] !== 'function');
  if (missing.length > 0) throw new TypeError(`provider from ${url} lacks ${missing.join(', ')}`);
  return provider as Provider;
}
