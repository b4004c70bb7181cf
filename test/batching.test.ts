import { afterAll, describe, expect, it } from 'vitest';
import { Gate, controlPool, outcome } from './helpers.ts';

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('the batching transport', () => {
  const pool = controlPool({ shards: 2, maxQueued: 50_000 });
  afterAll(() => pool.close({ force: true }));

  it('keeps per-key order across batch boundaries', async () => {
    const keys = ['order-a', 'order-b', 'order-c'];
    const runs: Promise<{ key: string; seq: number; overlapped: boolean }>[] = [];
    let seq = 0;
    // Bursts of varying size, some sent in one turn (one batch), some spread over many turns.
    for (const burst of [1, 500, 3, 1, 1200, 7, 250]) {
      for (let i = 0; i < burst; i++) {
        const key = keys[seq % 3]!;
        const n = seq++;
        runs.push((pool.run(key, { op: 'record', seq: n, yields: 0 }) as Promise<{ seq: number; overlapped: boolean }>).then((r) => ({ ...r, key })));
        if (burst < 10) await turn();
      }
      await turn();
    }
    const results = await Promise.all(runs);
    for (const key of keys) {
      const seqs = results.filter((r) => r.key === key).map((r) => r.seq);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    }
    expect(results.some((r) => r.overlapped)).toBe(false);
  });

  it('handles a cancel that lands in the middle of a batch', async () => {
    const gate = new Gate();
    // All of this is sent in one batch: run, run, cancel, run.
    const first = outcome(pool.run('mid', { op: 'gate', gate: gate.buffer, slot: 0 }));
    const second = outcome(pool.run('mid', { op: 'echo', startedGate: gate.buffer, startedSlot: 1 }));
    expect(pool.cancel('mid', 'stop')).toBe(2);
    const third = pool.run('mid', { op: 'echo', value: 'after the cancel' });
    expect(await third).toMatchObject({ value: 'after the cancel' });
    for (const result of [await first, await second]) expect(result.ok || result.error.code).toBe('ERR_LANE_CANCELLED');
    expect(gate.value(1)).toBe(0); // the dropped task never started
    gate.open(0);
  });

  it('handles a caller abort that lands in the middle of a batch', async () => {
    const gate = new Gate();
    const controller = new AbortController();
    const head = pool.run('mid-abort', { op: 'gate', gate: gate.buffer, slot: 0 });
    const victim = outcome(pool.run('mid-abort', { op: 'echo', startedGate: gate.buffer, startedSlot: 1 }, { signal: controller.signal }));
    controller.abort();
    const tail = pool.run('mid-abort', { op: 'echo', value: 'tail' });
    gate.open(0);
    expect(await head).toBe('released');
    expect(await tail).toMatchObject({ value: 'tail' });
    expect((await victim).ok).toBe(false);
    expect(gate.value(1)).toBe(0);
  });

  it('settles every task exactly once under random cancels within and across batches', async () => {
    let seed = 42;
    const random = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    const keys = Array.from({ length: 40 }, (_, i) => `chaos-${i}`);
    const settlements = new Map<number, number>();
    const completedSeqs = new Map<string, number[]>();
    const runs: Promise<void>[] = [];
    const before = pool.stats();
    let cancelled = 0;
    for (let n = 0; n < 4000; n++) {
      const key = keys[Math.floor(random() * keys.length)]!;
      const controller = random() < 0.05 ? new AbortController() : undefined;
      const p = pool.run(key, { op: 'record', seq: n, yields: Math.floor(random() * 3) }, controller ? { signal: controller.signal } : undefined);
      runs.push(p.then(
        (r) => {
          const { seq } = r as { seq: number };
          settlements.set(n, (settlements.get(n) ?? 0) + 1);
          (completedSeqs.get(key) ?? completedSeqs.set(key, []).get(key)!).push(seq);
        },
        (error: { code?: string }) => {
          expect(error.code).toBe('ERR_LANE_CANCELLED');
          settlements.set(n, (settlements.get(n) ?? 0) + 1);
        },
      ));
      if (controller && random() < 0.5) controller.abort();
      else if (controller) setImmediate(() => controller.abort());
      if (random() < 0.01) cancelled += pool.cancel(keys[Math.floor(random() * keys.length)]!, 'chaos');
      if (random() < 0.02) await turn();
    }
    await Promise.all(runs);
    await pool.drain();
    expect(settlements.size).toBe(4000);
    expect([...settlements.values()].every((count) => count === 1)).toBe(true);
    for (const seqs of completedSeqs.values()) expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    const after = pool.stats();
    expect(after.completed - before.completed + after.cancelled - before.cancelled).toBe(4000);
    expect(after.cancelled - before.cancelled).toBeGreaterThanOrEqual(cancelled);
    expect(after).toMatchObject({ lanes: 0, queued: 0, running: 0 });
    for (const worker of await pool.inspect()) expect(worker).toMatchObject({ lanes: 0, queued: 0, running: 0 });
  });
});
