/**
 * The `startup` benchmark: what the compiled package (dist/, as `npm install lanepool` gets it) costs
 * to start, against plain piscina on the same handler file, in one run. Every sample is a fresh child
 * process, so module caches, JIT state and earlier workers never flatter a later sample; the two
 * designs alternate, so drift on a shared machine hits both alike. Reported as medians, and the
 * median of the per-trial ratios.
 *
 *   ready      `new LanePool` (2 shards) until `ready()` resolves, against `new Piscina` (2 threads)
 *              until its first task resolves; and the same with 1 shard and 1 thread, where both wait
 *              for exactly one worker (ready() waits for every worker, a first task for one)
 *   rss/shard  (RSS with 5 shards - RSS with 1 shard) / 4, each once every worker has loaded the handler
 *   import     main-thread `import('lanepool')` against `import('piscina')`
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const DIST = new URL('../../dist/main/index.js', import.meta.url);
const ADD = new URL('./add.mjs', import.meta.url).href;
const TRIALS = 9;
/** Lets every worker finish loading before RSS is read: piscina reports no per-worker readiness. */
const SETTLE_MS = 500;

type Design = 'lanepool' | 'piscina';

/** The module each design's samples import: the compiled pool, or piscina as this repo has it. */
function moduleOf(design: Design): string {
  return design === 'lanepool' ? DIST.href : 'piscina';
}

/** A sample script: prints one number, in ms or bytes, on its last line. */
const SCRIPTS = {
  import: (design: Design) => `
    const t0 = performance.now();
    await import(${JSON.stringify(moduleOf(design))});
    console.log(performance.now() - t0);`,
  ready: (design: Design, shards: number) => design === 'lanepool' ? `
    const { LanePool } = await import(${JSON.stringify(DIST.href)});
    const t0 = performance.now();
    const pool = new LanePool({ handler: new URL(${JSON.stringify(ADD)}), shards: ${shards} });
    await pool.ready();
    console.log(performance.now() - t0);
    await pool.close();` : `
    const { Piscina } = await import('piscina');
    const t0 = performance.now();
    const pool = new Piscina({ filename: ${JSON.stringify(ADD)}, minThreads: ${shards}, maxThreads: ${shards} });
    await pool.run({ n: 1 });
    console.log(performance.now() - t0);
    await pool.destroy();`,
  rss: (design: Design, shards: number) => design === 'lanepool' ? `
    const { LanePool } = await import(${JSON.stringify(DIST.href)});
    const pool = new LanePool({ handler: new URL(${JSON.stringify(ADD)}), shards: ${shards} });
    await pool.ready();
    await pool.run('k', { n: 1 });
    await new Promise((resolve) => setTimeout(resolve, ${SETTLE_MS}));
    console.log(process.memoryUsage().rss);
    await pool.close();` : `
    const { Piscina } = await import('piscina');
    const pool = new Piscina({ filename: ${JSON.stringify(ADD)}, minThreads: ${shards}, maxThreads: ${shards} });
    await pool.run({ n: 1 });
    await new Promise((resolve) => setTimeout(resolve, ${SETTLE_MS}));
    console.log(process.memoryUsage().rss);
    await pool.destroy();`,
};

/** Runs one sample in a fresh `node` (no loader, no flags) from the repository root. */
function sample(script: string): Promise<number> {
  const cwd = fileURLToPath(new URL('../..', import.meta.url));
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--input-type=module', '-e', script], { cwd }, (error, stdout, stderr) => {
      const value = Number(stdout.trim().split('\n').at(-1));
      if (error || !Number.isFinite(value)) reject(new Error(`startup sample failed: ${error?.message ?? stdout}\n${stderr}`));
      else resolve(value);
    });
  });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

interface Paired {
  lanepool: number;
  piscina: number;
  /**
   * The median of the per-trial ratios. Each trial's two samples run back to back, so load that
   * drifts over the run (other processes on a shared machine) cancels out of each ratio.
   */
  ratio: number;
}

/** Medians over TRIALS trials, each one sample per design, the order alternating trial by trial. */
async function paired(measure: (design: Design) => Promise<number>): Promise<Paired> {
  const samples: Record<Design, number[]> = { lanepool: [], piscina: [] };
  for (let trial = 0; trial < TRIALS; trial++) {
    // Alternate which design goes first, so neither always meets a machine warmed by the other.
    for (const design of trial % 2 ? (['piscina', 'lanepool'] as const) : (['lanepool', 'piscina'] as const)) {
      samples[design].push(await measure(design));
    }
  }
  const ratios = samples.lanepool.map((value, trial) => value / samples.piscina[trial]!);
  return { lanepool: median(samples.lanepool), piscina: median(samples.piscina), ratio: median(ratios) };
}

export async function startup(): Promise<Record<string, string | number>[]> {
  if (!existsSync(DIST)) throw new Error('startup measures the compiled package: run `npm run build` first (`npm run bench` does)');
  const ready = await paired((design) => sample(SCRIPTS.ready(design, 2)));
  const readyOne = await paired((design) => sample(SCRIPTS.ready(design, 1)));
  const MB = 2 ** 20;
  const perShard = await paired(async (design) => {
    const [one, five] = [await sample(SCRIPTS.rss(design, 1)), await sample(SCRIPTS.rss(design, 5))];
    return (five - one) / 4 / MB;
  });
  const imported = await paired((design) => sample(SCRIPTS.import(design)));
  const row = (figure: string, unit: string, values: Paired): Record<string, string | number> => ({
    bench: 'startup', figure, unit, lanepool: values.lanepool, piscina: values.piscina, ratio: values.ratio,
  });
  return [
    row('new → ready(), 2 shards (piscina: first task)', 'ms', ready),
    row('new → ready(), 1 shard (piscina: first task)', 'ms', readyOne),
    row('RSS per extra shard', 'MB', perShard),
    row('main-thread import', 'ms', imported),
  ];
}
