/**
 * `engines` is a promise: a clean `npm install` on the lowest Node it admits prints no EBADENGINE
 * warning. That holds when every package in the lockfile, the dev tools included, accepts the lowest
 * version of each Node line `engines` names.
 */
import { readFileSync } from 'node:fs';
import semver from 'semver';
import { describe, expect, it } from 'vitest';

const read = (file: string): unknown => JSON.parse(readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8'));
const manifest = read('package.json') as { engines: { node: string } };
interface Locked {
  version?: string;
  engines?: { node?: string } | string[];
  optional?: boolean;
  cpu?: string[];
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}
const lock = read('package-lock.json') as { packages: Record<string, Locked> };

/** The lowest version of each alternative in a range: `^20.19.0 || >=22.12.0` gives 20.19.0 and 22.12.0. */
function floors(range: string): string[] {
  return new semver.Range(range).set.map((comparators) => semver.minVersion(comparators.map((c) => c.value).join(' '))!.version);
}

/**
 * Lockfile paths npm never installs on a real Node: builds for a `wasm32` CPU (rolldown ships one),
 * and optional packages that only those depend on. npm checks engines only for what it installs.
 */
function wasmOnly(): Set<string> {
  const name = (path: string): string => path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
  const skipped = new Set(Object.keys(lock.packages).filter((path) => lock.packages[path]!.cpu?.every((cpu) => cpu === 'wasm32')));
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (!entry.optional || skipped.has(path)) continue;
    const dependents = Object.entries(lock.packages).filter(([, other]) => name(path) in { ...other.dependencies, ...other.optionalDependencies });
    if (dependents.length > 0 && dependents.every(([other]) => skipped.has(other))) skipped.add(path);
  }
  return skipped;
}

describe('engines', () => {
  it('is met by every locked package at the lowest Node version of each line it admits', () => {
    const lowest = floors(manifest.engines.node);
    expect(lowest.length).toBeGreaterThan(0);
    const refused: string[] = [];
    const skipped = wasmOnly();
    for (const [path, entry] of Object.entries(lock.packages)) {
      // Old lockfiles may hold engines as an array of strings; npm ignores that form.
      const wanted = Array.isArray(entry.engines) ? undefined : entry.engines?.node;
      if (path === '' || wanted === undefined || skipped.has(path)) continue;
      for (const version of lowest) {
        if (!semver.satisfies(version, wanted)) refused.push(`${path}@${entry.version} wants node ${wanted}, engines admits ${version}`);
      }
    }
    expect(refused).toEqual([]);
  });
});
