/** A service on `--provider codex` driving test/fixtures/fake-codex.mjs, in a fresh workspace root. */
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isRunning } from '../../src/main/service/agent-processes.ts';
import type { ServiceConfig } from '../../src/main/service/config.ts';
import { startTestService } from './helpers.ts';

export const FAKE_CODEX = fileURLToPath(new URL('../fixtures/fake-codex.mjs', import.meta.url));
export const FAKE_CODEX_COMMAND = `${process.execPath} ${FAKE_CODEX}`;

/** A new workspace root with one directory per entry, each with its fake-codex.json (none for `{}`). */
export function workspace(dirs: Record<string, object> = {}): string {
  const root = realpathSync(mkdtempSync(join(tmpdir(), 'lanepool-codex-')));
  for (const [dir, config] of Object.entries(dirs)) {
    mkdirSync(join(root, dir), { recursive: true });
    if (Object.keys(config).length > 0) writeFileSync(join(root, dir, 'fake-codex.json'), JSON.stringify(config));
  }
  return root;
}

export function startCodexService(root: string, overrides: Partial<ServiceConfig> = {}) {
  return startTestService({ provider: 'codex', codexCommand: FAKE_CODEX_COMMAND, workspaceRoot: root, agentStopGraceMs: 2000, ...overrides });
}

/** The pids of the fake processes started in `dir` so far. */
export function pidsIn(dir: string): number[] {
  try {
    return readFileSync(join(dir, 'fake-codex.pids'), 'utf8').split('\n').filter((line) => line !== '').map(Number);
  } catch {
    return [];
  }
}

/** Polls `condition` every 20 ms until it holds; false after `ms` (a hang detector, not a timing assertion). */
export async function eventually(condition: () => boolean | Promise<boolean>, ms = 15_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await condition()) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return condition();
}

export { isRunning };
