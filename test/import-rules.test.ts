/**
 * The import rules of src/, read from the import statements themselves (static, type-only, re-exports
 * and dynamic `import()`, as TypeScript's own pre-processor finds them):
 * - src/worker never imports src/main: the worker runs only the protocol, the shared helpers and its lanes;
 * - src/shared imports neither src/main nor src/worker: both sides load it;
 * - the pool (src/main/*.ts and src/shared) never imports src/main/service or src/main/jetstream;
 * - src/main/service imports src/main/jetstream only from server.ts, the one file that picks the backend;
 * - the pool's worker and shared files never import the service's (src/worker/service, src/shared/service):
 *   the service's worker side (the reactor, its providers) and its shared types sit on top of the pool.
 * Today's exceptions are listed in KNOWN_DEBT: the test fails on any other violation, and on a debt
 * entry that no longer occurs (so the list can only shrink).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../', import.meta.url));

/** Violations that exist today, each `from -> to`: none. A new entry needs a reason beside it. */
const KNOWN_DEBT = new Set<string>([]);

/** The one service file allowed to import jetstream/: it picks the intent backend from the config. */
const BACKEND_PICKER = 'src/main/service/server.ts';

type Area = 'worker' | 'shared' | 'service-worker' | 'service-shared' | 'pool' | 'service' | 'jetstream' | 'outside';

function areaOf(path: string): Area {
  if (path.startsWith('src/worker/service/')) return 'service-worker';
  if (path.startsWith('src/shared/service/')) return 'service-shared';
  if (path.startsWith('src/worker/')) return 'worker';
  if (path.startsWith('src/shared/')) return 'shared';
  if (path.startsWith('src/main/service/')) return 'service';
  if (path.startsWith('src/main/jetstream/')) return 'jetstream';
  if (path.startsWith('src/main/')) return 'pool';
  return 'outside';
}

/** Why `from` may not import `to`, or undefined if it may. */
function forbidden(from: string, to: string): string | undefined {
  const [a, b] = [areaOf(from), areaOf(to)];
  const main = b === 'pool' || b === 'service' || b === 'jetstream';
  if ((a === 'worker' || a === 'service-worker') && main) return 'the worker never imports src/main';
  if ((a === 'shared' || a === 'service-shared') && b !== 'shared' && b !== 'service-shared' && b !== 'outside') {
    return 'src/shared imports neither src/main nor src/worker';
  }
  if ((a === 'worker' || a === 'shared') && (b === 'service-worker' || b === 'service-shared')) {
    return "the pool's worker and shared files never import the service's";
  }
  const serviceSide = b === 'service' || b === 'jetstream' || b === 'service-worker' || b === 'service-shared';
  if ((a === 'pool' || a === 'shared') && serviceSide) return 'the pool never imports the service or JetStream';
  if (a === 'service' && b === 'jetstream' && from !== BACKEND_PICKER) return `the service imports jetstream/ only from ${BACKEND_PICKER}`;
  return undefined;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory()) return sourceFiles(path);
    return /\.(ts|mts|mjs|js)$/.test(entry.name) ? [path] : [];
  });
}

/** Every relative import in src/, as `from -> to` with both paths from the repository root. */
function importEdges(): { from: string; to: string }[] {
  return sourceFiles('src').flatMap((from) => {
    const { importedFiles } = ts.preProcessFile(readFileSync(join(ROOT, from), 'utf8'), true, true);
    return importedFiles
      .filter(({ fileName }) => fileName.startsWith('.'))
      .map(({ fileName }) => ({ from, to: relative(ROOT, join(ROOT, dirname(from), fileName)).split('\\').join('/') }));
  });
}

describe('import rules', () => {
  const edges = importEdges();

  it('reads the imports of every src/ file, type-only and dynamic ones included', () => {
    const seen = new Set(edges.map(({ from, to }) => `${from} -> ${to}`));
    // A few edges of each kind, so a parser that saw nothing cannot pass the test below.
    expect(seen).toContain('src/worker/attach.ts -> src/worker/lanes.ts');
    expect(seen).toContain('src/main/shard.ts -> src/main/pending-task.ts'); // import type
    expect(seen).toContain('src/worker/entry.mjs -> src/worker/attach.ts'); // await import()
    expect(seen).toContain('src/main/index.ts -> src/main/pool.ts'); // export ... from
  });

  it('finds no forbidden import beyond the known debt', () => {
    const violations = edges
      .map(({ from, to }) => ({ edge: `${from} -> ${to}`, why: forbidden(from, to) }))
      .filter((v) => v.why !== undefined);
    const fresh = violations.filter((v) => !KNOWN_DEBT.has(v.edge)).map((v) => `${v.edge}: ${v.why}`);
    expect(fresh).toEqual([]);
    // Paid-off debt leaves the list, so it cannot come back unnoticed.
    const stale = [...KNOWN_DEBT].filter((edge) => !violations.some((v) => v.edge === edge));
    expect(stale).toEqual([]);
  });

  it('classifies the rules as stated', () => {
    expect(forbidden('src/worker/lanes.ts', 'src/main/routing.ts')).toMatch(/worker never imports/);
    expect(forbidden('src/shared/errors.ts', 'src/worker/lanes.ts')).toMatch(/src\/shared imports/);
    expect(forbidden('src/main/pool.ts', 'src/main/service/records.ts')).toMatch(/pool never imports/);
    expect(forbidden('src/main/pool.ts', 'src/main/jetstream/mode.ts')).toMatch(/pool never imports/);
    expect(forbidden('src/main/service/dispatcher.ts', 'src/main/jetstream/mode.ts')).toMatch(/only from/);
    expect(forbidden(BACKEND_PICKER, 'src/main/jetstream/mode.ts')).toBeUndefined();
    expect(forbidden('src/main/jetstream/partition.ts', 'src/main/service/records.ts')).toBeUndefined();
    expect(forbidden('src/worker/lanes.ts', 'src/shared/protocol.ts')).toBeUndefined();
    expect(forbidden('src/worker/service/reactor.ts', 'src/main/service/records.ts')).toMatch(/worker never imports/);
    expect(forbidden('src/shared/service/intents.ts', 'src/worker/service/reactor.ts')).toMatch(/src\/shared imports/);
    expect(forbidden('src/worker/lanes.ts', 'src/worker/service/reactor.ts')).toMatch(/never import the service's/);
    expect(forbidden('src/shared/errors.ts', 'src/shared/service/intents.ts')).toMatch(/never import the service's/);
    expect(forbidden('src/worker/service/reactor.ts', 'src/shared/service/intents.ts')).toBeUndefined();
    expect(forbidden('src/main/service/dispatcher.ts', 'src/shared/service/intents.ts')).toBeUndefined();
    expect(forbidden('src/main/pool.ts', 'src/shared/service/provider.ts')).toMatch(/pool never imports/);
  });
});
