import { HandlerLoadError, messageOf } from '../shared/errors.ts';
import type { Handler, HandlerInit, HandlerStats } from '../shared/handler.ts';
import { importUserModule } from './typescript.ts';

/** A loaded handler module: its default export, and its optional `stats` export. */
export interface LoadedHandler {
  handler: Handler;
  stats: HandlerStats | undefined;
}

/**
 * Imports the user's handler module, awaits its optional `init(data, { shard })` export, and returns
 * its default export and optional `stats` export. A `.ts`, `.mts` or `.cts` module is loaded through
 * tsx, registered just before (see typescript.ts). Every failure becomes a HandlerLoadError. One that
 * never finishes is the main thread's to catch (ShardWorker's `loadTimeoutMs`): a synchronous hang
 * here would stop any timer of ours too.
 */
export async function loadHandler(url: string, data: unknown, shard: number): Promise<LoadedHandler> {
  let mod: { default?: unknown; init?: unknown; stats?: unknown };
  try {
    mod = (await importUserModule(url)) as { default?: unknown; init?: unknown; stats?: unknown };
  } catch (error) {
    throw new HandlerLoadError({ handler: url, detail: messageOf(error) });
  }
  let fn = mod.default;
  // A CommonJS module compiled from `export default` nests the function one level deeper.
  if (fn !== null && typeof fn === 'object' && typeof (fn as { default?: unknown }).default === 'function') {
    fn = (fn as { default: unknown }).default;
  }
  if (typeof fn !== 'function') {
    throw new HandlerLoadError({ handler: url, detail: `its default export is ${fn === undefined ? 'missing' : typeof fn}, not a function` });
  }
  if (mod.stats !== undefined && typeof mod.stats !== 'function') {
    throw new HandlerLoadError({ handler: url, detail: `its stats export is ${typeof mod.stats}, not a function` });
  }
  if (mod.init !== undefined) {
    if (typeof mod.init !== 'function') throw new HandlerLoadError({ handler: url, detail: `its init export is ${typeof mod.init}, not a function` });
    try {
      await (mod.init as HandlerInit)(data, { shard });
    } catch (error) {
      throw new HandlerLoadError({ handler: url, detail: `init failed: ${messageOf(error)}` });
    }
  }
  return { handler: fn as Handler, stats: mod.stats as HandlerStats | undefined };
}
