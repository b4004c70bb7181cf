// PLACEHOLDER on branch agents only: replaced by the real acp provider before anything merges to main.
import type { AgentSettings, Provider } from '../../../shared/service/provider.ts';

export function createAcpProvider(_settings: AgentSettings, _info: { shard: number }): Provider {
  throw new Error('the acp provider is not built yet');
}
