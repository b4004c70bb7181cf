import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/main/index.ts';
import { HTTP_ERRORS } from '../../src/main/service/http-errors.ts';
import { RECORD_ERRORS } from '../../src/main/service/records.ts';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));
/** Codes lanepool reads but never raises: Node's own. */
const FOREIGN = ['ERR_WORKER_OUT_OF_MEMORY', 'ERR_UNKNOWN_FILE_EXTENSION'];

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return /\.(ts|mjs)$/.test(entry.name) ? [path] : [];
  });
}

describe('record error codes', () => {
  it('match the README record errors table exactly, in both directions', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const section = readme.split('### Record errors')[1]?.split('\n#')[0] ?? '';
    const documented = [...section.matchAll(/^\| `(ERR_[A-Z_]+)` \|/gm)].map((m) => m[1]);
    expect(documented.length).toBe(new Set(documented).size);
    expect([...documented].sort()).toEqual(Object.values(RECORD_ERRORS).sort());
  });

  it('are, with the pool\'s and the HTTP codes, every ERR_ code written anywhere in src/', () => {
    const tabled = new Set<string>([...ERROR_CODES, ...Object.keys(HTTP_ERRORS), ...Object.values(RECORD_ERRORS), ...FOREIGN]);
    const untabled: string[] = [];
    for (const file of sources(SRC)) {
      for (const [, code] of readFileSync(file, 'utf8').matchAll(/\b(ERR_[A-Z][A-Z_]*)\b/g)) {
        if (!tabled.has(code!)) untabled.push(`${code} in ${file.slice(SRC.length)}`);
      }
    }
    expect(untabled).toEqual([]);
  });
});
