/**
 * The operator console's static files: the page, its script and style, and the vendored uPlot. All
 * are read once, when the service starts, and served from memory: the page works offline and never
 * loads anything from another origin.
 *
 * From dist/ (the package) the build has copied them all into dist/main/service/console/ (see
 * scripts/copy-console-assets.mjs). From the sources the page's own files sit in
 * src/main/service/console/, and uPlot is read from the `uplot` dev dependency.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { FROM_SOURCE } from '../../shared/module-url.ts';

export interface ConsoleAsset {
  type: string;
  body: Buffer;
}

/** uPlot's files as the console serves them, by their path in the `uplot` package. */
export const VENDORED: Readonly<Record<string, string>> = Object.freeze({
  'uPlot.iife.min.js': 'uplot/dist/uPlot.iife.min.js',
  'uPlot.min.css': 'uplot/dist/uPlot.min.css',
});

/** The page's own files, in src/main/service/console/. */
export const OWN = Object.freeze(['index.html', 'console.js', 'console.css']);

const TYPES: Readonly<Record<string, string>> = { html: 'text/html; charset=utf-8', js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8' };

/** Every console file by name; throws if one is missing (a broken build, not a runtime condition). */
export function loadConsoleAssets(): ReadonlyMap<string, ConsoleAsset> {
  const dir = new URL('./console/', import.meta.url);
  const require = createRequire(import.meta.url);
  const assets = new Map<string, ConsoleAsset>();
  for (const name of [...OWN, ...Object.keys(VENDORED)]) {
    const path = FROM_SOURCE && name in VENDORED ? require.resolve(VENDORED[name]!) : fileURLToPath(new URL(name, dir));
    assets.set(name, { type: TYPES[name.slice(name.lastIndexOf('.') + 1)]!, body: readFileSync(path) });
  }
  return assets;
}
