// Part of `npm run build`: copies the console's static files, and the uPlot build it vendors, next to
// the compiled route in dist/main/service/console/, so the package serves them with no CDN and no
// runtime dependency on `uplot`. The list of files is the one src/main/service/console-assets.ts reads.
import { copyFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const from = new URL('../src/main/service/console/', import.meta.url);
const to = new URL('../dist/main/service/console/', import.meta.url);
const { OWN, VENDORED } = await import('../dist/main/service/console-assets.js');
mkdirSync(to, { recursive: true });
for (const name of OWN) copyFileSync(new URL(name, from), new URL(name, to));
for (const [name, path] of Object.entries(VENDORED)) copyFileSync(require.resolve(path), new URL(name, to));
