/**
 * The load test: simulates hung session starts and shows that lanepool keeps every other thread
 * flowing, against the three designs it replaces. `npm run loadtest -- --help` lists the flags.
 */
import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { messageOf } from '../src/shared/errors.ts';
import { numberFlag } from './flags.ts';
import { makePlan, type PlanOptions } from './loadtest/plan.ts';
import { html, label, table } from './loadtest/report.ts';
import { runMode, type ModeResult } from './loadtest/runner.ts';
import type { Target } from './loadtest/target.ts';
import { createGlobal } from './loadtest/targets/global.ts';
import { createLanes } from './loadtest/targets/lanes.ts';
import { createPerThreadMain } from './loadtest/targets/per-thread-main.ts';
import { createShardFifo } from './loadtest/targets/shard-fifo.ts';

export const MODES = ['global', 'per-thread-main', 'shard-fifo', 'lanes'] as const;
export type Mode = (typeof MODES)[number];

export interface LoadTestOptions extends PlanOptions {
  modes: Mode[];
  shards: number;
  concurrency: number;
  budgetMs: number;
  target?: string;
  token?: string;
  /**
   * Also run lanes with 0% hung, the reference for the hung run's p99. The load generator shares the
   * machine's cores with the service, so one pass's p99 is noisy: the comparison warms up once, then
   * alternates reference and hung passes `repeats` times and compares their medians.
   */
  reference: boolean;
  repeats: number;
  progress: boolean;
  /**
   * `codex`: every session is a fake Codex app-server process and a hung start is a hung
   * `initialize` (lanes and global only); each stop then waits for the hung thread's process to go.
   */
  provider?: 'simulator' | 'codex';
}

/** The designs that can run on fake Codex processes. */
export const CODEX_MODES: readonly Mode[] = ['global', 'lanes'];

export async function runLoadTest(options: LoadTestOptions, log: (line: string) => void = () => {}): Promise<ModeResult[]> {
  const results: ModeResult[] = [];
  const passes: { mode: Mode; hung: number; warmup?: boolean }[] = options.modes.filter((m) => m !== 'lanes').map((mode) => ({ mode, hung: options.hung }));
  if (options.modes.includes('lanes')) {
    if (options.reference && options.hung > 0) {
      passes.push({ mode: 'lanes', hung: 0, warmup: true });
      for (let i = 0; i < options.repeats; i++) passes.push({ mode: 'lanes', hung: 0 }, { mode: 'lanes', hung: options.hung });
    } else {
      passes.push({ mode: 'lanes', hung: options.hung });
    }
  }
  for (const { mode, hung, warmup } of passes) {
    // The warm-up only needs to compile the hot paths: a quarter of the threads will do.
    const plan = makePlan({ ...options, hung, threads: warmup ? Math.max(1, Math.ceil(options.threads / 4)) : options.threads });
    const target = await createTarget(mode, options);
    const name = `${mode} (${Math.round(hung * 100)}% hung)`;
    log(`${name}: ${plan.length} threads, ${plan.filter((t) => t.hung).length} hung, budget ${options.budgetMs} ms`);
    let lastPlain = 0;
    let reporting = true;
    const result = await runMode(target, plan, hung, {
      concurrency: options.concurrency,
      budgetMs: options.budgetMs,
      // With codex the stop's latency (up to its process gone) is the figure: give it room to be measured.
      stopTimeoutMs: options.provider === 'codex' ? 10_000 : 1_000,
      onProgress: (done, total, elapsed) => {
        if (!options.progress || !reporting) return;
        if (process.stdout.isTTY) {
          const filled = Math.round((done / total) * 30);
          process.stdout.write(`\r  [${'#'.repeat(filled)}${'.'.repeat(30 - filled)}] ${done}/${total} healthy settled, ${(elapsed / 1000).toFixed(1)} s`);
        } else if (elapsed - lastPlain >= 2_000 || done === total) {
          lastPlain = elapsed;
          log(`  ${done}/${total} healthy settled at ${(elapsed / 1000).toFixed(1)} s`);
        }
      },
    });
    reporting = false;
    if (options.progress && process.stdout.isTTY) process.stdout.write('\n');
    await target.close();
    const orphans = target.orphans?.();
    if (orphans !== undefined) result.orphans = orphans;
    const agents = orphans === undefined ? '' : `, slowest stop ${stopText(result)}, ${orphans} agent processes left`;
    log(`  ${result.finished ? 'finished' : 'blocked'} in ${(result.elapsedMs / 1000).toFixed(1)} s: ${result.healthy.completed} completed, ${result.healthy.blocked} blocked, p99 ${result.latencyMs.p99.toFixed(1)} ms${agents}${warmup ? ' (warm-up, not reported)' : ''}`);
    if (!warmup) results.push(result);
  }
  return results;
}

/** The slowest stop that worked, and how many did. */
function stopText(result: ModeResult): string {
  const { stopMs, count } = result.hungThreads;
  return `${stopMs.length > 0 ? `${stopMs.at(-1)!.toFixed(0)} ms` : '-'} (${stopMs.length}/${count} stopped)`;
}

/** The pass with the median healthy p99 among those of a mode and hung fraction. */
export function medianPass(results: ModeResult[], mode: string, hung: number): ModeResult | undefined {
  const passes = results.filter((r) => r.mode === mode && r.hung === hung).sort((a, b) => a.latencyMs.p99 - b.latencyMs.p99);
  return passes[Math.floor((passes.length - 1) / 2)];
}

/** Keeps one row per mode and hung fraction for the table: the median pass. */
export function summarize(results: ModeResult[]): ModeResult[] {
  const seen = new Set<string>();
  const rows: ModeResult[] = [];
  for (const r of results) {
    const id = `${r.mode}/${r.hung}`;
    if (seen.has(id)) continue;
    seen.add(id);
    rows.push(medianPass(results, r.mode, r.hung)!);
  }
  return rows.sort((a, b) => MODES.indexOf(a.mode as Mode) - MODES.indexOf(b.mode as Mode) || b.hung - a.hung);
}

function strip(result: ModeResult): Omit<ModeResult, 'latencies' | 'completedAtMs'> & { label: string } {
  const { latencies: _, completedAtMs: __, ...rest } = result;
  return { label: label(result), ...rest };
}

function createTarget(mode: Mode, options: LoadTestOptions): Promise<Target> {
  switch (mode) {
    case 'global': return createGlobal({ codex: options.provider === 'codex' });
    case 'per-thread-main': return createPerThreadMain();
    case 'shard-fifo': return createShardFifo(options.shards);
    case 'lanes': return createLanes({
      shards: options.shards, codex: options.provider === 'codex', ...(options.target ? { target: options.target } : {}), ...(options.token ? { token: options.token } : {}),
    });
  }
}

const HELP = `Usage: npm run loadtest -- [flags]

  --threads N              conversation threads [200]
  --intents-per-thread N   turn intents per thread [20]
  --hung F                 fraction of threads whose first session start hangs [0.1]
  --hang-ms MS|forever     how long a hung start hangs [forever]
  --send-cpu-ms MS         CPU burned per turn [2]
  --shards N               worker threads for shard-fifo and lanes [cores]
  --concurrency N          threads submitting at once [50]
  --mode M                 global | per-thread-main | shard-fifo | lanes | all [all]
  --provider P             simulator | codex: with codex, every session is a fake Codex app-server
                           process and a hung start a hung initialize (modes global and lanes) [simulator]
  --budget-ms MS           time budget per mode; then its unsettled intents count as blocked [8000]
  --target URL             run lanes against a running service instead of starting one
  --token T                bearer token for --target
  --json FILE              write machine-readable results
  --html FILE              write an HTML report with a latency chart per mode
  --seed N                 seed of the plan [1]
  --repeats N              lanes: alternating 0%-hung and hung passes, after one warm-up; medians reported [1]`;

function parse(argv: string[]): LoadTestOptions & { json?: string; html?: string } {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: Object.fromEntries(['threads', 'intents-per-thread', 'hung', 'hang-ms', 'send-cpu-ms', 'shards', 'concurrency', 'mode', 'budget-ms', 'target', 'token', 'json', 'html', 'seed', 'repeats', 'provider']
      .map((flag) => [flag, { type: 'string' as const }]).concat([['help', { type: 'boolean' as const }]] as never)),
  }) as { values: Record<string, string | boolean | undefined> };
  if (values.help) {
    console.log(HELP);
    process.exit(0);
  }
  const num = (flag: string, fallback: number, min: number, max: number, integer = true): number =>
    numberFlag(flag, values[flag], fallback, { min, max, integer });
  const mode = (values.mode as string | undefined) ?? 'all';
  if (mode !== 'all' && !(MODES as readonly string[]).includes(mode)) throw new Error(`--mode must be one of ${MODES.join(', ')}, all; got ${JSON.stringify(mode)}`);
  const provider = (values.provider as string | undefined) ?? 'simulator';
  if (provider !== 'simulator' && provider !== 'codex') throw new Error(`--provider must be simulator or codex; got ${JSON.stringify(provider)}`);
  if (provider === 'codex' && mode !== 'all' && !CODEX_MODES.includes(mode as Mode)) throw new Error(`--provider codex runs the modes ${CODEX_MODES.join(' and ')}; got --mode ${mode}`);
  if (provider === 'codex' && values.target) throw new Error('--provider codex starts its own service: it cannot use --target');
  const hangText = values['hang-ms'];
  return {
    threads: num('threads', 200, 1, 100_000),
    intentsPerThread: num('intents-per-thread', 20, 1, 10_000),
    hung: num('hung', 0.1, 0, 1, false),
    hangMs: hangText === undefined || hangText === 'forever' ? Infinity : num('hang-ms', 0, 0, 2 ** 31 - 1),
    sendCpuMs: num('send-cpu-ms', 2, 0, 10_000),
    shards: num('shards', availableParallelism(), 1, 1024),
    concurrency: num('concurrency', 50, 1, 100_000),
    budgetMs: num('budget-ms', 8_000, 100, 3_600_000),
    seed: num('seed', 1, 0, 2 ** 32 - 1),
    modes: mode !== 'all' ? [mode as Mode] : provider === 'codex' ? [...CODEX_MODES] : [...MODES],
    provider,
    reference: true,
    repeats: num('repeats', 1, 1, 50),
    progress: true,
    ...(values.target ? { target: values.target as string } : {}),
    ...(values.token ? { token: values.token as string } : {}),
    ...(values.json ? { json: values.json as string } : {}),
    ...(values.html ? { html: values.html as string } : {}),
  };
}

async function main(): Promise<void> {
  let options;
  try {
    options = parse(process.argv.slice(2));
  } catch (error) {
    console.error(`loadtest: ${messageOf(error)}\n\n${HELP}`);
    process.exit(2);
  }
  const command = `npm run loadtest -- ${process.argv.slice(2).join(' ')}`.trim();
  const all = await runLoadTest(options, (line) => console.log(line));
  const results = summarize(all);
  console.log(`\n${table(results)}\n`);
  const hungRun = medianPass(all, 'lanes', options.hung);
  const reference = options.hung > 0 ? medianPass(all, 'lanes', 0) : undefined;
  if (hungRun && reference) {
    const passes = all.filter((r) => r.mode === 'lanes').length;
    console.log(`lanes healthy p99 with ${Math.round(hungRun.hung * 100)}% hung / with 0% hung: ${(hungRun.latencyMs.p99 / reference.latencyMs.p99).toFixed(2)}x (${passes === 2 ? 'one pass each' : `medians of ${passes / 2} alternating passes each`})`);
  }
  if (options.provider === 'codex') {
    for (const result of results) console.log(`${label(result)}: slowest stop ${stopText(result)}, ${result.orphans ?? '?'} agent processes left at the end`);
  }
  if (options.json) {
    writeFileSync(options.json, `${JSON.stringify({ command, options, summary: results.map(strip), passes: all.map(strip) }, null, 2)}\n`);
    console.log(`wrote ${options.json}`);
  }
  if (options.html) {
    writeFileSync(options.html, html(results, command));
    console.log(`wrote ${options.html}`);
  }
  // Abandoned hung handlers of the in-process baselines must not keep the process alive.
  process.exit(0);
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
