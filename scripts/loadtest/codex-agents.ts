/**
 * `npm run loadtest -- --provider codex`: the same plan, but every session is a real fake Codex
 * app-server process (test/fixtures/fake-codex.mjs). A planned hung start becomes a session whose
 * `initialize` never answers: its intent's cwd is a directory of its own whose fake-codex.json says so.
 *
 *   <root>/ok/                      every healthy session
 *   <root>/hung/<threadId>/         one hung thread's session (fake-codex.json: initialize hangs)
 *
 * Each fake appends its pid to fake-codex.pids in its cwd, so the load test can tell when a stopped
 * thread's process is gone, and count the processes left running once a mode is over (orphans).
 */
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isRunning } from '../../src/main/service/agent-processes.ts';
import type { AgentSettings } from '../../src/shared/service/provider.ts';
import type { PlannedIntent } from './plan.ts';
import type { Outcome } from './target.ts';

const FAKE_CODEX = fileURLToPath(new URL('../../test/fixtures/fake-codex.mjs', import.meta.url));
/** How long a stopped hung thread's process may take to go before its stop counts as failed. */
const GONE_TIMEOUT_MS = 10_000;

export class CodexWorkspace {
  readonly root = realpathSync(mkdtempSync(join(tmpdir(), 'lanepool-loadtest-codex-')));
  readonly command = [process.execPath, FAKE_CODEX];

  constructor() {
    mkdirSync(join(this.root, 'ok'));
  }

  /** The agent settings for a reactor run in this process (the global baseline). */
  settings(registry?: string): AgentSettings {
    return { protocol: 'codex', command: this.command, workspaceRoot: this.root, stopGraceMs: 1000, ...(registry ? { registry } : {}) };
  }

  /** The planned intent as the codex provider takes it: its cwd says whether its session start hangs. */
  intent(threadId: string, intent: PlannedIntent): { type: 'thread.turn.start'; payload: { input: string; cwd: string } } {
    let cwd = 'ok';
    if (intent.payload.simulate?.startHangMs !== undefined) {
      cwd = join('hung', threadId);
      mkdirSync(join(this.root, cwd), { recursive: true });
      writeFileSync(join(this.root, cwd, 'fake-codex.json'), JSON.stringify({ initialize: 'hang' }));
    }
    return { type: 'thread.turn.start', payload: { input: intent.payload.input, cwd } };
  }

  /**
   * A completed turn's outcome; the fake echoes the input ("turn i of tN"), so `cursor` is i + 1 and
   * the runner's order check works as with the simulator's counting cursor.
   */
  outcome(result: unknown): Outcome {
    const text = (result as { output?: { text?: unknown } } | undefined)?.output?.text;
    const match = typeof text === 'string' ? /echo: turn (\d+) of/.exec(text) : null;
    return match ? { ok: true, cursor: Number(match[1]) + 1 } : { ok: true };
  }

  /** Resolves once every process a hung thread started has exited (bounded). */
  async gone(threadId: string): Promise<boolean> {
    const deadline = Date.now() + GONE_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (!pidsIn(join(this.root, 'hung', threadId)).some(isRunning)) return true;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    return false;
  }

  /** Fake processes of this workspace still running: after a mode closed, its orphans. */
  running(): number {
    const dirs = [join(this.root, 'ok')];
    try {
      for (const thread of readdirSync(join(this.root, 'hung'))) dirs.push(join(this.root, 'hung', thread));
    } catch {
      // No hung thread in this pass.
    }
    return dirs.flatMap(pidsIn).filter(isRunning).length;
  }

  remove(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}

function pidsIn(dir: string): number[] {
  try {
    return readFileSync(join(dir, 'fake-codex.pids'), 'utf8').split('\n').filter((line) => line !== '').map(Number);
  } catch {
    return [];
  }
}
