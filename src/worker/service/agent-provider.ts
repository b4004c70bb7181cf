/**
 * Picks the built-in agent provider for `--provider codex` or `--provider acp`. Each is imported only
 * when picked, so a service on the simulator never loads an agent protocol's code.
 */
import type { AgentSettings, Provider } from '../../shared/service/provider.ts';

export async function createAgentProvider(settings: AgentSettings, shard: number): Promise<Provider> {
  switch (settings.protocol) {
    case 'codex':
      return (await import('./providers/codex.ts')).createCodexProvider(settings, { shard });
    case 'acp':
      return (await import('./providers/acp.ts')).createAcpProvider(settings, { shard });
  }
}
