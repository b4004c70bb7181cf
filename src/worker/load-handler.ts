import { HandlerLoadError } from '../shared/errors.ts';
import type { Handler } from '../shared/handler.ts';

/**
 * Imports the user's handler module and returns its default export. A `.ts` module works because the
 * worker entry registers tsx before anything else runs.
 */
export async function loadHandler(url: string): Promise<Handler> {
  let mod: { default?: unknown };
  try {
    mod = (await import(url)) as { default?: unknown };
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new HandlerLoadError({ handler: url, detail });
  }
  let fn = mod.default;
  // A CommonJS module compiled from `export default` nests the function one level deeper.
  if (fn !== null && typeof fn === 'object' && typeof (fn as { default?: unknown }).default === 'function') {
    fn = (fn as { default: unknown }).default;
  }
  if (typeof fn !== 'function') {
    throw new HandlerLoadError({ handler: url, detail: `its default export is ${fn === undefined ? 'missing' : typeof fn}, not a function` });
  }
  return fn as Handler;
}
