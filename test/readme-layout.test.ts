import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../src/', import.meta.url));

describe('the README\'s "How it works"', () => {
  it('names every folder and file of src/', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const section = readme.split('\n## How it works')[1]?.split('\n## ')[0] ?? '';
    const entries = readdirSync(SRC, { recursive: true, withFileTypes: true })
      .map((entry) => `${entry.parentPath.slice(SRC.length)}/${entry.name}`.replace(/^\//, '').split('\\').join('/'));
    expect(entries.length).toBeGreaterThan(50);
    // A file is named by its name in its folder's bullet; a folder by its path (`src/main/service/`, `routes/`).
    const missing = entries.filter((path) => {
      const name = path.split('/').at(-1)!;
      return !section.includes(`\`${name}\``) && !section.includes(`\`${name}/\``) && !section.includes(`\`src/${path}/\``);
    });
    expect(missing).toEqual([]);
  });
});
