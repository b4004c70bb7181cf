import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

// Every snippet of the README's "More of the API, by example" runs here as written, against the
// sources ('lanepool') and test/fixtures/readme-handler.mjs ('./handler.mjs'). Each asserts on its own.
const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const section = readme.slice(readme.indexOf('### More of the API, by example'), readme.indexOf('## Guarantees'));
// One paragraph per item, opening with its bold title, followed by its ```ts block.
const snippets = section.split('\n**').slice(1).map((part) => ({
  title: part.slice(0, part.indexOf('**')).replace(/\.$/, ''),
  code: /```ts\n([\s\S]*?)```/.exec(part)?.[1] ?? '',
}));
const INDEX = pathToFileURL(new URL('../src/main/index.ts', import.meta.url).pathname).href;
const HANDLER = new URL('./fixtures/readme-handler.mjs', import.meta.url).href;
const dir = mkdtempSync(join(tmpdir(), 'lanepool-readme-'));

describe('the README API snippets', () => {
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('has one per item', () => {
    expect(snippets.map((s) => s.title)).toEqual([
      'Disposal', 'Tracing with `diagnostics_channel`', 'Abort semantics', 'Types from the handler', 'Timing in `stats()`', 'Transfer', 'Handler events', 'Per-key drain', 'Events',
    ]);
  });

  for (const [i, { title, code }] of snippets.entries()) {
    it(`runs: ${title}`, async () => {
      const source = code
        .replaceAll("from 'lanepool'", `from '${INDEX}'`)
        .replaceAll("new URL('./handler.mjs', import.meta.url)", `new URL('${HANDLER}')`);
      const file = join(dir, `snippet-${i}.ts`);
      writeFileSync(file, `${source}\nexport {};\n`);
      await import(pathToFileURL(file).href);
    });
  }
});
