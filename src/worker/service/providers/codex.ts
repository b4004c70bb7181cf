// PLACEHOLDER on branch agents only: replaced by the real codex provider before anything merges to main.
import type { AgentSettings, Provider } from '../../../shared/service/provider.ts';

export function createCodexProvider(_settings: AgentSettings, _info: { shard: number }): Provider {
  throw new Error('the codex provider is not built yet');
}
