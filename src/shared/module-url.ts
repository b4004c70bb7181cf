/**
 * Where the package's own modules are at run time. Piscina and the handler loader take a module by
 * URL, so the package names some of its files itself (the worker entry, the service's reactor).
 *
 * From dist/ (what `npm install lanepool` runs) tsc has emitted every `src/…/x.ts` as `dist/…/x.js`,
 * and no TypeScript loader is registered. From the sources (vitest, tsx scripts) the `.ts` files are
 * loaded as they are. This module's own URL tells which of the two is running.
 */

/** True when the package runs from its TypeScript sources, false when it runs from dist/. */
export const FROM_SOURCE = import.meta.url.endsWith('.ts');

/**
 * The URL of the package module at `path` (written with its source `.ts` extension), relative to
 * `base` (the caller's `import.meta.url`): `.ts` from the sources, `.js` from dist/.
 */
export function ownModule(path: string, base: string): URL {
  return new URL(FROM_SOURCE ? path : path.replace(/\.ts$/, '.js'), base);
}
