/**
 * The load test's plan: which threads exist, which of them hang their first session start, and the
 * intents each thread sends. Every mode runs the same plan; `seed` makes it reproducible.
 */
export interface PlanOptions {
  threads: number;
  intentsPerThread: number;
  /** Fraction of threads whose first session start hangs. */
  hung: number;
  /** How long a hung start hangs; Infinity for forever. */
  hangMs: number;
  sendCpuMs: number;
  seed: number;
}

export interface PlannedIntent {
  type: 'thread.turn.start';
  payload: { input: string; simulate?: { startHangMs?: number | 'forever'; sendCpuMs?: number } };
}

export interface PlannedThread {
  /** Without the mode prefix; each mode prefixes it so modes never share session state. */
  name: string;
  hung: boolean;
  intents: PlannedIntent[];
}

/** mulberry32: a tiny seeded PRNG, enough for choosing hung threads reproducibly. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function makePlan(options: PlanOptions): PlannedThread[] {
  const next = random(options.seed);
  const hungCount = Math.round(options.threads * options.hung);
  // Choose exactly hungCount threads at random (a partial Fisher-Yates shuffle).
  const order = Array.from({ length: options.threads }, (_, i) => i);
  for (let i = 0; i < hungCount; i++) {
    const j = i + Math.floor(next() * (options.threads - i));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const hung = new Set(order.slice(0, hungCount));
  return Array.from({ length: options.threads }, (_, t) => ({
    name: `t${t}`,
    hung: hung.has(t),
    intents: Array.from({ length: options.intentsPerThread }, (_, i) => {
      const simulate: NonNullable<PlannedIntent['payload']['simulate']> = {};
      if (options.sendCpuMs > 0) simulate.sendCpuMs = options.sendCpuMs;
      if (i === 0 && hung.has(t)) simulate.startHangMs = Number.isFinite(options.hangMs) ? options.hangMs : 'forever';
      return { type: 'thread.turn.start' as const, payload: { input: `turn ${i} of t${t}`, simulate } };
    }),
  }));
}
