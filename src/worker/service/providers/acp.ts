/**
 * `--provider acp`: any Agent Client Protocol agent (`--agent-command`), one process per thread
 * session, driven through the SDK's client side (acp-session.ts) over the process's stdio.
 *
 * - startSession spawns the agent in the session's cwd and opens an ACP session in it; its signal
 *   (Stop, cancel, deadline) kills the process while the start is in progress, whatever step hangs.
 * - sendTurn is one `session/prompt`; its `session/update`s and permission requests are the turn's
 *   events. interruptTurn is `session/cancel`. stopSession stops the process (SIGTERM, then SIGKILL).
 * - A process that exits fails the call it was serving with ERR_PROVIDER_EXITED, and isAlive turns
 *   false, so the thread's next turn starts a new process and resumes the session from its cursor.
 * Nothing is retried: a failed request fails its intent.
 */
import { ProviderError } from '../../../shared/errors.ts';
import { resolveWorkspaceCwd } from '../../../shared/service/workspace.ts';
import type { AgentSettings, Provider, ProviderSession } from '../../../shared/service/provider.ts';
import { AgentLauncher, findProgram, type AgentProcess } from '../agent-process.ts';
import { AcpSession } from './acp-session.ts';

/** One live session: the process and the ACP connection in it. */
interface Live {
  process: AgentProcess;
  acp: AcpSession;
}

export function createAcpProvider(settings: AgentSettings, info: { shard: number }): Provider {
  // Refused when the worker loads the provider, so that the service does not start without its agent.
  if (settings.command[0] !== undefined && findProgram(settings.command[0]) === undefined) {
    throw new ProviderError({ operation: 'load', detail: `cannot find ${JSON.stringify(settings.command[0])} on PATH or in node_modules/.bin` });
  }
  const launcher = new AgentLauncher(settings, info.shard);
  /** By lanepool session id, which is the ACP session id made unique in this worker. */
  const live = new Map<string, Live>();

  function get(session: ProviderSession, operation: string): Live {
    const found = live.get(session.sessionId);
    if (found === undefined) throw new ProviderError({ operation, detail: `no live acp session ${JSON.stringify(session.sessionId)}` });
    if (!found.process.alive) throw found.process.exitedError(operation);
    if (!found.acp.alive) throw new ProviderError({ operation, detail: 'the agent closed its connection' });
    return found;
  }

  function uniqueId(acpSessionId: string): string {
    let id = acpSessionId;
    for (let n = 2; live.has(id); n++) id = `${acpSessionId}~${n}`;
    return id;
  }

  return {
    async startSession({ runtimeMode, resumeCursor, cwd, signal, emit }) {
      const checked = resolveWorkspaceCwd(settings.workspaceRoot, cwd);
      if (!checked.ok) throw new ProviderError({ operation: 'start', detail: checked.reason });
      const dir = checked.path;
      const process = await launcher.spawn({ cwd: dir, signal });
      const acp = new AcpSession(process);
      try {
        await acp.open({ cwd: dir, runtimeMode, resumeCursor, signal, emit });
      } catch (error) {
        acp.close();
        await process.stop();
        throw error;
      }
      process.started();
      const sessionId = uniqueId(acp.acpSessionId);
      live.set(sessionId, { process, acp });
      // Forgotten once the process is gone; the reactor drops the session when isAlive says so.
      void process.exited.then(() => {
        if (live.get(sessionId)?.process === process) live.delete(sessionId);
      });
      return { sessionId, cursor: acp.acpSessionId };
    },

    async sendTurn(session, { input, signal, emit }) {
      const { process, acp } = get(session, 'turn');
      try {
        return await acp.prompt({ signal, emit }, input);
      } catch (error) {
        throw process.alive ? error : process.exitedError('turn');
      }
    },

    async interruptTurn(session) {
      return { interrupted: get(session, 'interrupt').acp.interrupt() };
    },

    async respondToApproval(session, { requestId, decision }) {
      return get(session, 'approval').acp.respond(requestId, decision);
    },

    async respondToUserInput() {
      throw new ProviderError({ operation: 'user-input', detail: 'an ACP agent asks no user input of lanepool (it offers no elicitation capability)' });
    },

    async stopSession(session) {
      const found = live.get(session.sessionId);
      if (found === undefined) return;
      live.delete(session.sessionId);
      found.acp.close();
      await found.process.stop();
    },

    isAlive(session) {
      const found = live.get(session.sessionId);
      return found !== undefined && found.process.alive && found.acp.alive;
    },
  };
}
