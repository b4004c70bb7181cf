import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SETTINGS } from '../../src/main/service/config.ts';

describe('the README flags table', () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const section = readme.slice(readme.indexOf('### Flags'), readme.indexOf('### HTTP errors'));
  const rows = section.split('\n').filter((line) => line.startsWith('| `--'));

  it('lists every flag with its environment variable', () => {
    for (const { flag, env } of Object.values(SETTINGS)) {
      // Matched on the first cell: other rows may mention the flag in their text.
      const row = rows.find((line) => line.split('|')[1]!.includes(`\`--${flag}\``));
      expect(row, `--${flag} has no row`).toBeDefined();
      // A row shared by several flags may elide the later variables with "...".
      expect(row!.includes(`\`${env}\``) || row!.includes('...'), `--${flag}'s row lacks ${env}`).toBe(true);
    }
  });

  it('lists no flag the service does not have', () => {
    const known = new Set<string>(Object.values(SETTINGS).map((setting) => setting.flag));
    const listed = rows.flatMap((line) => [...line.split('|')[1]!.matchAll(/`--([a-z0-9-]+)`/g)].map((match) => match[1]!));
    expect(listed.filter((flag) => !known.has(flag))).toEqual([]);
  });
});
