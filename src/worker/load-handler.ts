import { HandlerLoadError } from '../shared/errors.ts';
import type { Handler, HandlerInit } from '../shared/handler.ts';
import { importUserModule } from './typescript.ts';

/**
 * Imports the user's handler module, awaits its optional `init(data, { shard })` export, and returns
 * its default export. A `.ts`, `.mts` or `.cts` module is loaded through tsx, registered just before
 * (see typescript.ts). Every failure becomes a HandlerLoadError.
 */
export async function loadHandler(url: string, data: unknown, shard: number): Promise<Handler> {
  let mod: { default?: unknown; init?: unknown };
  try {
    mod = (await importUserModule(url)) as { default?: unknown; init?: unknown };
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
  if (mod.init !== undefined) {
    if (typeof mod.init !== 'function') throw new HandlerLoadError({ handler: url, detail: `its init export is ${typeof mod.init}, not a function` });
    try {
      await (mod.init as HandlerInit)(data, { shard });
    } catch (error) {
      throw new HandlerLoadError({ handler: url, detail: `init failed: ${error instanceof Error ? error.message : String(error)}` });
    }
  }
  return fn as Handler;
}
