/**
 * The `http` benchmark: what the service's intent path costs over a bare Fastify route, in one run.
 *
 *   bare            a bare Fastify 5 route with the service's schemas, answering 202 (http-target.ts)
 *   service 202     the lanepool service, POST /v1/threads/:threadId/intents
 *   service wait    the same with ?wait=true: answered once the intent has settled
 *
 * Each server runs in a child process of its own (its CPU is read there: main thread and workers),
 * and the load comes from autocannon in another (http-load.mjs), so neither shares the measured
 * event loop. The three designs alternate, round after round, so drift on a shared machine hits them
 * alike; each is reported by its median round, and its ratios to the bare route are the medians of
 * the per-round ratios (each against the bare run of its own round). After a 202 run the service is
 * drained before its CPU is read, so the work behind every 202 it answered is counted.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const TARGET = fileURLToPath(new URL('./http-target.mjs', import.meta.url));
const LOAD = fileURLToPath(new URL('./http-load.mjs', import.meta.url));
const DIST = new URL('../../dist/main/service/index.js', import.meta.url);

export interface HttpOptions {
  /** Each measured run. */
  durationMs: number;
  /** autocannon's connections. @default 64 */
  connections: number;
  /** Distinct threadIds, taken round-robin. @default 1000 */
  threads: number;
  /** Measured rounds of the three designs; each is reported by its median round. @default 3 */
  rounds: number;
  /** If set, both servers run with `--cpu-prof` and write their profiles (one per thread) to `<dir>/bare` and `<dir>/service`. */
  cpuProfDir?: string | undefined;
  /** Where both servers load the package from: `dist` (built; what users run) or `src` through tsx. @default 'dist' */
  from: 'dist' | 'src';
}

type Design = 'bare' | 'service';

/** Messages from http-target.mjs. */
type TargetMessage = { port: number } | { cpu: NodeJS.CpuUsage; mainMicros: number | undefined };

/** CPU seconds used by the whole process, and by its main thread alone (undefined off Linux). */
interface Cpu {
  all: number;
  main: number | undefined;
}

/** What one autocannon run reports (http-load.mjs). */
interface Load {
  ok: number;
  other: number;
  errors: number;
  statuses: string;
  seconds: number;
  p50Ms: number;
  p99Ms: number;
}

interface Run extends Load {
  cpuSeconds: number;
  mainCpuSeconds: number | undefined;
}

type Row = Record<string, string | number>;

/** A server process: its port, and its CPU time (every thread of it) in seconds. */
class Target {
  readonly #child: ChildProcess;
  readonly port: number;

  private constructor(child: ChildProcess, port: number) {
    this.#child = child;
    this.port = port;
  }

  static async start(design: Design, from: HttpOptions['from'], execArgv: string[] = []): Promise<Target> {
    // tsx only to load the sources: from dist/ nothing is transformed, as for a user.
    const child = fork(TARGET, [design, from], { execArgv: [...(from === 'src' ? ['--import', 'tsx'] : []), ...execArgv], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    const [message] = (await Promise.race([once(child, 'message'), once(child, 'exit').then(() => {
      throw new Error(`http-target ${design} exited before listening`);
    })])) as [TargetMessage];
    if (!('port' in message)) throw new Error(`http-target ${design}: unexpected ${JSON.stringify(message)}`);
    return new Target(child, message.port);
  }

  async cpuSeconds(): Promise<Cpu> {
    const reply = once(this.#child, 'message');
    this.#child.send('cpu');
    const [message] = (await reply) as [TargetMessage];
    if (!('cpu' in message)) throw new Error(`http-target: unexpected ${JSON.stringify(message)}`);
    return { all: (message.cpu.user + message.cpu.system) / 1e6, main: message.mainMicros === undefined ? undefined : message.mainMicros / 1e6 };
  }

  async stop(): Promise<void> {
    const exited = once(this.#child, 'exit');
    this.#child.send('stop');
    await exited;
  }
}

async function load(port: number, query: string, o: HttpOptions, durationMs: number): Promise<Load> {
  const child = fork(LOAD, [JSON.stringify({ url: `http://127.0.0.1:${port}`, query, connections: o.connections, durationMs, threads: o.threads })], {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const [message] = (await Promise.race([once(child, 'message'), once(child, 'exit').then(() => {
    throw new Error('http-load exited without a result');
  })])) as [Load];
  await once(child, 'exit');
  return message;
}

/** Waits until the service has nothing queued or running, so a run's CPU includes the work behind its 202s. */
async function drain(port: number): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${port}/v1/drain?timeoutMs=120000`, { method: 'POST' });
  if (res.status !== 200) throw new Error(`drain answered ${res.status}: ${await res.text()}`);
}

async function measure(target: Target, query: string, o: HttpOptions, durationMs: number, drains: boolean): Promise<Run> {
  const before = await target.cpuSeconds();
  const result = await load(target.port, query, o, durationMs);
  if (drains) await drain(target.port);
  const after = await target.cpuSeconds();
  const main = after.main !== undefined && before.main !== undefined ? after.main - before.main : undefined;
  return { ...result, cpuSeconds: after.all - before.all, mainCpuSeconds: main };
}

const rate = (run: Run): number => run.ok / run.seconds;
const cpuPer10k = (run: Run): number => (run.cpuSeconds / run.ok) * 10_000;

/** Progress on stderr, as the other benchmarks report theirs; the counts let a profile be read per request. */
function report(when: string, design: string, run: Run): void {
  console.error(`http ${when}, ${design}: ${run.ok} answered 2xx (${run.other + run.errors} not), ${rate(run).toFixed(0)}/s, ${run.cpuSeconds.toFixed(2)} CPU s`);
}

/** The run of median throughput (the lower middle one of an even count). */
function median(runs: Run[]): Run {
  return [...runs].sort((a, b) => rate(a) - rate(b))[Math.floor((runs.length - 1) / 2)]!;
}

function middle(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const half = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[half]! : (sorted[half - 1]! + sorted[half]!) / 2;
}

export async function http(o: HttpOptions): Promise<Row[]> {
  if (o.from === 'dist' && !existsSync(DIST)) throw new Error('http runs the compiled service: run `npm run build` first (`npm run bench` does)');
  const profile = (design: Design): string[] => (o.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${join(o.cpuProfDir, design)}`] : []);
  const bare = await Target.start('bare', o.from, profile('bare'));
  const service = await Target.start('service', o.from, profile('service'));
  const designs = [
    { name: 'bare Fastify route, 202', target: bare, query: '', drains: false },
    { name: 'lanepool service, 202', target: service, query: '', drains: true },
    { name: 'lanepool service, ?wait=true', target: service, query: '?wait=true', drains: true },
  ];
  const runs = designs.map((): Run[] => []);
  try {
    const warmUpMs = Math.min(1000, o.durationMs);
    for (const design of designs) report('warm-up', design.name, await measure(design.target, design.query, o, warmUpMs, design.drains));
    for (let round = 0; round < o.rounds; round++) {
      for (const [i, design] of designs.entries()) {
        const run = await measure(design.target, design.query, o, o.durationMs, design.drains);
        report(`round ${round + 1}`, design.name, run);
        runs[i]!.push(run);
      }
    }
  } finally {
    await Promise.all([bare.stop(), service.stop()]);
  }
  const chosen = runs.map(median);
  const bareRuns = runs[0]!;
  // Each round's ratio against the bare run of the same round, then their median: load that drifts
  // between rounds cancels out within each.
  const ratio = (i: number, figure: (run: Run) => number): number =>
    middle(runs[i]!.map((run, round) => figure(run) / figure(bareRuns[round]!)));
  return designs.map((design, i) => {
    const run = chosen[i]!;
    return {
      bench: 'http',
      design: design.name,
      'intents/s': rate(run),
      'p50 ms': run.p50Ms,
      'p99 ms': run.p99Ms,
      'CPU s / 10k': cpuPer10k(run),
      // The rest is the workers and V8's helper threads (concurrent GC).
      'main thread CPU s / 10k': run.mainCpuSeconds === undefined ? 'n/a' : (run.mainCpuSeconds / run.ok) * 10_000,
      'not 2xx': run.other + run.errors,
      'ratio': ratio(i, rate),
      'CPU ratio': ratio(i, cpuPer10k),
    };
  });
}
