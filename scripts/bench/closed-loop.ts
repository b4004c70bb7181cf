/**
 * A closed-loop driver: keeps `inFlight` tasks outstanding for `durationMs`, starting a new one as each
 * settles, and reports throughput and latency. Every design runs through the same driver.
 */

export interface LoopResult {
  tasksPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  loopLagP99Ms: number;
  completed: number;
}

/**
 * Measures how late a 5 ms timer fires. Unlike `monitorEventLoopDelay`, it also counts the gap from
 * its last tick to `stop()`, so a loop that never turned during the run (work chained entirely in
 * microtasks) reports that whole stall instead of an empty histogram read as zero.
 */
class LagProbe {
  readonly #delays: number[] = [];
  #last = performance.now();
  readonly #timer = setInterval(() => {
    const now = performance.now();
    this.#delays.push(Math.max(0, now - this.#last - 5));
    this.#last = now;
  }, 5);

  stopP99(): number {
    clearInterval(this.#timer);
    this.#delays.push(Math.max(0, performance.now() - this.#last - 5));
    this.#delays.sort((a, b) => a - b);
    return this.#delays[Math.min(this.#delays.length - 1, Math.floor(0.99 * this.#delays.length))]!;
  }
}

export async function closedLoop(run: (i: number) => Promise<unknown>, options: { inFlight: number; durationMs: number }): Promise<LoopResult> {
  const samples: number[] = [];
  let started = 0;
  let completed = 0;
  let stopping = false;
  const begin = performance.now();
  const lag = new LagProbe();
  await new Promise<void>((resolve, reject) => {
    let outstanding = 0;
    const launch = (): void => {
      const i = started++;
      outstanding++;
      const t0 = performance.now();
      run(i).then(() => {
        completed++;
        outstanding--;
        // Sample every 8th latency: enough for p99, without the samples dominating memory.
        if ((i & 7) === 0) samples.push(performance.now() - t0);
        if (!stopping && performance.now() - begin >= options.durationMs) stopping = true;
        if (!stopping) launch();
        else if (outstanding === 0) resolve();
      }, reject);
    };
    for (let i = 0; i < options.inFlight; i++) launch();
  });
  const elapsed = performance.now() - begin;
  const loopLagP99Ms = lag.stopP99();
  samples.sort((a, b) => a - b);
  const at = (q: number) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))] ?? NaN;
  return { tasksPerSecond: (completed / elapsed) * 1000, p50Ms: at(0.5), p99Ms: at(0.99), loopLagP99Ms, completed };
}
