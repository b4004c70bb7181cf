/**
 * TypeScript handlers. A worker registers tsx's ESM hooks only when its handler is a `.ts`, `.mts` or
 * `.cts` module, just before importing it, so a JavaScript handler (and the service's reactor) runs on
 * plain compiled JavaScript with no loader. tsx is an optional peer dependency: it may be missing.
 */
import { FROM_SOURCE } from '../shared/module-url.ts';

/** What a user without tsx is told to do. */
export const INSTALL_TSX = 'install tsx (npm i -D tsx), or compile the handler to JavaScript';

let registered: Promise<void> | undefined;

/** True for a `.ts`, `.mts` or `.cts` module URL. */
export function isTypeScript(url: string): boolean {
  return /\.[cm]?ts$/.test(new URL(url).pathname);
}

/**
 * Registers tsx once per worker. Rejects with the reason when tsx cannot be loaded; a worker that
 * failed stays failed (its handler cannot load), so the rejection is kept, not retried.
 */
export function registerTypeScript(): Promise<void> {
  // From the sources, entry.mjs registered tsx before importing the runtime: registering twice would
  // chain its hooks twice.
  if (FROM_SOURCE) return Promise.resolve();
  registered ??= import('tsx/esm/api').then(({ register }) => {
    register();
  });
  return registered;
}
