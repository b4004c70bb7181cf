import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { HTTP_ERRORS } from '../../src/main/service/http-errors.ts';

describe('HTTP error codes', () => {
  it('match the README HTTP errors table, code and status', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const section = readme.split('### HTTP errors')[1]?.split('\n## ')[0] ?? '';
    const rows = [...section.matchAll(/^\| `(ERR_[A-Z_]+)` \| (\d{3}) \|/gm)].map((m) => [m[1], Number(m[2])]);
    expect(Object.fromEntries(rows)).toEqual(HTTP_ERRORS);
    expect(rows.length).toBe(Object.keys(HTTP_ERRORS).length);
  });
});
