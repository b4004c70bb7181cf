/**
 * Where an agent session may run: `payload.cwd` must name a directory inside `--workspace-root`, with
 * symlinks resolved on both sides, so a link inside the root that points outside it is refused too.
 * The main thread checks it at the HTTP boundary (400 `ERR_INVALID_CWD`); the agent providers check it
 * again in the worker before they spawn anything, as defence.
 */
import { realpathSync, statSync } from 'node:fs';
import { isAbsolute, relative, resolve, sep } from 'node:path';

export type CwdCheck = { ok: true; path: string } | { ok: false; reason: string };

/**
 * The session's real working directory: `cwd` (absolute, or relative to `root`) or, when absent, the
 * root itself. Never throws.
 */
export function resolveWorkspaceCwd(root: string, cwd: string | undefined): CwdCheck {
  let realRoot: string;
  try {
    realRoot = realpathSync(root);
  } catch {
    return { ok: false, reason: `the workspace root ${JSON.stringify(root)} does not exist` };
  }
  if (cwd === undefined) return { ok: true, path: realRoot };
  if (cwd.includes('\0')) return { ok: false, reason: 'payload.cwd contains a NUL character' };
  let real: string;
  try {
    real = realpathSync(resolve(realRoot, cwd));
  } catch {
    return { ok: false, reason: `payload.cwd ${JSON.stringify(cwd)} does not exist` };
  }
  const rel = relative(realRoot, real);
  if (rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
    return { ok: false, reason: `payload.cwd ${JSON.stringify(cwd)} resolves to ${JSON.stringify(real)}, outside the workspace root ${JSON.stringify(realRoot)}` };
  }
  try {
    if (!statSync(real).isDirectory()) return { ok: false, reason: `payload.cwd ${JSON.stringify(cwd)} is not a directory` };
  } catch {
    return { ok: false, reason: `payload.cwd ${JSON.stringify(cwd)} does not exist` };
  }
  return { ok: true, path: real };
}
