/**
 * The user's modules written in TypeScript (a handler, the service's provider). A worker registers
 * tsx's ESM hooks only when it imports a `.ts`, `.mts` or `.cts` module, just before, so a JavaScript
 * handler (and the service's reactor) runs on plain compiled JavaScript with no loader. tsx is an
 * optional peer dependency: it may be missing.
 */
import { messageOf } from '../shared/errors.ts';
import { FROM_SOURCE } from '../shared/module-url.ts';

/** What a user without tsx is told to do. */
const INSTALL_TSX = 'install tsx (npm i -D tsx), or compile it to JavaScript';

let registered: Promise<void> | undefined;

/**
 * Imports a module of the user's, registering tsx first when it is TypeScript. Without tsx the import
 * is still tried, since a Node with type stripping may load it; if it fails, its error says to install tsx.
 */
export async function importUserModule(url: string): Promise<unknown> {
  let missing: unknown;
  if (/\.[cm]?ts$/.test(new URL(url).pathname)) await registerTypeScript().catch((error: unknown) => (missing = error ?? 'unknown error'));
  try {
    return await import(url);
  } catch (error) {
    if (missing === undefined) throw error;
    throw new Error(`${messageOf(error)}; it is TypeScript, which needs tsx, and tsx could not be loaded (${messageOf(missing)}): ${INSTALL_TSX}`);
  }
}

/**
 * Registers tsx once per worker. A failure is kept, not retried: the worker's handler cannot load,
 * so the worker is replaced or the shard fails.
 */
function registerTypeScript(): Promise<void> {
  // From the sources, entry.mjs registered tsx before importing the runtime: registering twice would
  // chain its hooks twice.
  if (FROM_SOURCE) return Promise.resolve();
  registered ??= import('tsx/esm/api').then(({ register }) => {
    register();
  });
  return registered;
}
