/**
 * The package as a stranger gets it: `npm pack`, then `npm install` of the tarball into a fresh
 * `"type": "module"` project, used with plain `node`, `npx` and `tsc`. Nothing here runs from src/.
 *
 * Packing runs `prepare`, which rebuilds dist/; the install reuses the npm cache (`--prefer-offline`),
 * so it needs no network beyond the npm registry, and usually none at all.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc');
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const NPX = process.platform === 'win32' ? 'npx.cmd' : 'npx';
/** Generous: only catches a hang. Packing builds dist/, and the install may reach the registry. */
const SETUP_MS = 300_000;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end; resolves with its exit code and output, whatever the code. */
function run(command: string, args: string[], cwd: string): Promise<Run> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd, maxBuffer: 64 * 2 ** 20, env: { ...process.env, npm_config_update_notifier: 'false' } }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

async function ok(command: string, args: string[], cwd: string): Promise<Run> {
  const result = await run(command, args, cwd);
  if (result.code !== 0) throw new Error(`${command} ${args.join(' ')} exited ${result.code}\n${result.stdout}\n${result.stderr}`);
  return result;
}

/** Runs an ES module script with plain node (no loader, no flags) in the consumer project. */
function node(project: string, file: string, source: string): Promise<Run> {
  writeFileSync(join(project, file), source);
  return run(process.execPath, [file], project);
}

let project: string;
let packed: { filename: string; files: { path: string }[] };
let install: Run;

beforeAll(async () => {
  project = mkdtempSync(join(tmpdir(), 'lanepool-consumer-'));
  const pack = await ok(NPM, ['pack', '--json', '--pack-destination', project], ROOT);
  // The prepare script's own output may precede the JSON on stdout.
  packed = (JSON.parse(pack.stdout.slice(pack.stdout.indexOf('\n[') + 1 || pack.stdout.indexOf('['))) as typeof packed[])[0]!;
  writeFileSync(join(project, 'package.json'), `${JSON.stringify({ name: 'consumer', private: true, type: 'module' }, null, 2)}\n`);
  // @types/node, what a TypeScript consumer of a Node library has anyway: this repository's version,
  // so the npm cache already holds it.
  const types = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> }).devDependencies['@types/node'];
  install = await ok(NPM, ['install', `./${packed.filename}`, `@types/node@${types}`, '--prefer-offline', '--no-audit', '--no-fund'], project);
  writeFileSync(join(project, 'handler.mjs'), 'export default async function (payload, { key }) { return `${key}:${payload.n}`; }\n');
}, SETUP_MS);

afterAll(() => {
  if (project) rmSync(project, { recursive: true, force: true });
});

describe('the npm tarball', () => {
  it('ships the compiled package, its declarations, README and LICENSE, and no sources, tests or fixtures', () => {
    const files = packed.files.map((f) => f.path).sort();
    for (const needed of [
      'LICENSE', 'README.md', 'package.json', 'dist/main/service/bin.js',
      'dist/main/index.js', 'dist/main/index.d.ts', 'dist/main/service/index.js', 'dist/main/service/index.d.ts',
      'dist/main/jetstream/index.js', 'dist/main/jetstream/index.d.ts', 'dist/worker/entry.js', 'dist/worker/service/reactor.js',
      // The operator console's static files, with uPlot vendored: the service loads nothing from a CDN.
      'dist/main/service/console/index.html', 'dist/main/service/console/console.js', 'dist/main/service/console/console.css',
      'dist/main/service/console/uPlot.iife.min.js', 'dist/main/service/console/uPlot.min.css',
    ]) expect(files).toContain(needed);
    const unexpected = files.filter((f) => !/^(LICENSE|README\.md|package\.json|dist\/.+\.(js|d\.ts|js\.map)|dist\/main\/service\/console\/[\w.]+\.(html|css))$/.test(f));
    expect(unexpected).toEqual([]);
  });

  it('installs on this Node without an EBADENGINE warning', () => {
    expect(install.stderr).not.toContain('EBADENGINE');
  });
});

describe('lanepool, installed from the tarball', () => {
  it('runs 100 tasks over 10 keys from a plain node ES module with a .mjs handler, in order per key', async () => {
    const result = await node(project, 'hundred.mjs', `
      import { LanePool } from 'lanepool';
      const pool = new LanePool({ handler: new URL('./handler.mjs', import.meta.url), shards: 2 });
      await pool.ready();
      const replies = await Promise.all(Array.from({ length: 100 }, (_, i) => pool.run('key-' + (i % 10), { n: i })));
      await pool.close();
      console.log(JSON.stringify(replies));
    `);
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual(Array.from({ length: 100 }, (_, i) => `key-${i % 10}:${i}`));
  });

  it('loads no module of fastify, pino, prom-client, ajv, nats or tsx on import: only piscina and what piscina needs', async () => {
    // Every ES module the import resolves is recorded by a resolve hook (run on Node's loader thread);
    // the CommonJS modules those load are in require.cache.
    const log = join(project, 'loaded.txt');
    writeFileSync(join(project, 'record-hooks.mjs'), `
      import { appendFileSync } from 'node:fs';
      let file;
      export function initialize(data) { file = data.file; }
      export async function resolve(specifier, context, next) {
        const resolved = await next(specifier, context);
        appendFileSync(file, resolved.url + '\\n');
        return resolved;
      }
    `);
    const result = await node(project, 'import-only.mjs', `
      import { register, createRequire } from 'node:module';
      import { appendFileSync, writeFileSync } from 'node:fs';
      writeFileSync(${JSON.stringify(log)}, '');
      register('./record-hooks.mjs', import.meta.url, { data: { file: ${JSON.stringify(log)} } });
      const lanepool = await import('lanepool');
      appendFileSync(${JSON.stringify(log)}, Object.keys(createRequire(import.meta.url).cache).join('\\n') + '\\n');
      console.log(typeof lanepool.LanePool);
    `);
    expect(result.stdout.trim()).toBe('function');
    const loaded = readFileSync(log, 'utf8').split('\n').filter(Boolean);
    const packages = new Set(loaded.flatMap((entry) => {
      const match = /node_modules[\\/]((?:@[^\\/]+[\\/])?[^\\/]+)/.exec(entry.startsWith('file:') ? fileURLToPath(entry) : entry);
      return match ? [match[1]!.replace('\\', '/')] : [];
    }));
    expect(packages).toContain('lanepool');
    expect(packages).toContain('piscina');
    const allowed = dependencyClosure(project, 'piscina').add('lanepool');
    expect([...packages].filter((name) => !allowed.has(name))).toEqual([]);
  });

  it('is importable with require() on a Node that has require(esm)', async () => {
    const result = await run(process.execPath, ['-e', "const l = require('lanepool'); console.log(typeof l.LanePool, typeof l.HandlerLoadError)"], project);
    expect(result.stderr).not.toContain('Error');
    expect(result.stdout.trim()).toBe('function function');
  });

  it('fails ready() and run() with HandlerLoadError saying to install tsx, for a TypeScript handler without tsx', async () => {
    writeFileSync(join(project, 'typed.ts'), 'const double = async (p: { n: number }): Promise<number> => p.n * 2;\nexport default double;\n');
    const result = await node(project, 'typed-without-tsx.mjs', `
      import { LanePool, HandlerLoadError } from 'lanepool';
      const pool = new LanePool({ handler: new URL('./typed.ts', import.meta.url), shards: 1 });
      const seen = [];
      for (const attempt of [() => pool.ready(), () => pool.run('k', { n: 1 })]) {
        try { await attempt(); seen.push('resolved'); } catch (e) { seen.push({ instance: e instanceof HandlerLoadError, code: e.code, message: e.message }); }
      }
      await pool.close({ force: true });
      console.log(JSON.stringify(seen));
    `);
    const seen = JSON.parse(result.stdout) as { instance: boolean; code: string; message: string }[];
    expect(seen).toHaveLength(2);
    for (const error of seen) {
      expect(error).toMatchObject({ instance: true, code: 'ERR_HANDLER_LOAD' });
      expect(error.message).toContain('npm i -D tsx');
    }
  });

  it('type-checks a TypeScript consumer of all three entries under nodenext and bundler, strict on and off', async () => {
    writeFileSync(join(project, 'consumer.ts'), `
      import { LanePool, HandlerLoadError, shardFor, type Handler, type PoolStats } from 'lanepool';
      import { resolveConfig, startService, type ProviderFactory, type Service } from 'lanepool/service';
      import { intentPublisher, type PublishResult } from 'lanepool/jetstream';

      export const handler: Handler<{ n: number }, number> = async ({ n }, { signal }) => (signal.aborted ? 0 : n + 1);
      const pool = new LanePool<{ n: number }, number>({ handler: new URL('./handler.mjs', import.meta.url), shards: 2 });
      const reply: number = await pool.run('key', { n: 1 }, { priority: 'control' });
      // @ts-expect-error the pool's result type is number: the types are real, not any
      const wrong: string = await pool.run('key', { n: 1 });
      const stats: PoolStats = pool.stats();
      export const provider: ProviderFactory | undefined = undefined;
      export const start: (typeof startService) | undefined = undefined;
      export const service: Service | undefined = undefined;
      export const published: PublishResult | undefined = undefined;
      export const used = [reply, wrong, stats, HandlerLoadError, shardFor('k', 2), resolveConfig, intentPublisher];
    `);
    const configs = (['nodenext', 'bundler'] as const).flatMap((moduleResolution) => [true, false].map((strict) => {
      const config = `tsconfig.${moduleResolution}.${strict ? 'strict' : 'loose'}.json`;
      // No skipLibCheck: the package's own declarations are checked too.
      writeFileSync(join(project, config), JSON.stringify({
        compilerOptions: { target: 'es2022', module: moduleResolution === 'bundler' ? 'esnext' : 'nodenext', moduleResolution, strict, noEmit: true, types: ['node'] },
        files: ['consumer.ts'],
      }));
      return config;
    }));
    const results = await Promise.all(configs.map((config) => run(process.execPath, [TSC, '-p', config], project)));
    const failures = results.flatMap((result, i) => (result.code === 0 ? [] : [`${configs[i]}:\n${result.stdout}${result.stderr}`]));
    expect(failures).toEqual([]);
  }, SETUP_MS);

  it('answers /readyz, and serves the console with its vendored uPlot, from `npx lanepool serve --port 0`', async () => {
    // Its own process group, so the test can stop npx and the service it started together.
    const child = spawn(NPX, ['lanepool', 'serve', '--port', '0', '--shards', '2'], { cwd: project, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    let stderr = '';
    child.stderr!.on('data', (chunk) => (stderr += chunk));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        child.once('exit', (code) => reject(new Error(`npx lanepool serve exited early with ${code}: ${stderr}`)));
        createInterface({ input: child.stdout! }).on('line', (line) => {
          const entry = JSON.parse(line) as { msg?: string; url?: string };
          if (entry.msg === 'lanepool service listening') resolve(entry.url!);
        });
      });
      const res = await request(`${url}/readyz`);
      expect(res.statusCode).toBe(200);
      expect(await res.body.json()).toMatchObject({ status: 'ready', shards: [{ id: 0, state: 'ready' }, { id: 1, state: 'ready' }] });
      // From dist/, where `uplot` (a dev dependency) is not installed: the build's copy is served.
      for (const file of ['/console', '/console/console.js', '/console/uPlot.iife.min.js']) {
        const asset = await request(`${url}${file}`);
        await asset.body.text();
        expect(asset.statusCode).toBe(200);
      }
    } finally {
      if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, 'SIGTERM');
      await exited;
    }
  });
});

describe('the compiled pool in dist/, with tsx installed (as in this repository)', () => {
  it('registers no TypeScript loader for a .mjs handler, and registers tsx for a .ts handler', async () => {
    const dist = new URL('dist/main/index.js', `file://${ROOT}/`).href;
    const fixture = (name: string): string => new URL(`../fixtures/${name}`, import.meta.url).href;
    const result = await run(process.execPath, ['--input-type=module', '-e', `
      import { LanePool } from ${JSON.stringify(dist)};
      const plain = new LanePool({ handler: new URL(${JSON.stringify(fixture('loader-probe.mjs'))}), shards: 1 });
      const typed = new LanePool({ handler: new URL(${JSON.stringify(fixture('typed.ts'))}), shards: 1 });
      const replies = [await plain.run('k', {}), await typed.run('k', { name: 'lane', times: 1 })];
      await Promise.all([plain.close(), typed.close()]);
      console.log(JSON.stringify(replies));
    `], ROOT);
    expect(result.stderr).toBe('');
    const [plain, typed] = JSON.parse(result.stdout) as string[];
    expect(plain).toMatch(/^no TypeScript loader/);
    expect(typed).toBe('hello lane! (k)');
  });
});

/** The package and everything it depends on (optional dependencies included), as installed in `project`. */
function dependencyClosure(projectDir: string, name: string, seen = new Set<string>()): Set<string> {
  const manifest = join(projectDir, 'node_modules', name, 'package.json');
  if (seen.has(name) || !existsSync(manifest)) return seen;
  seen.add(name);
  const pkg = JSON.parse(readFileSync(manifest, 'utf8')) as { dependencies?: object; optionalDependencies?: object };
  for (const dep of Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies })) dependencyClosure(projectDir, dep, seen);
  return seen;
}
