import { afterAll, describe, expect, it } from 'vitest';
import { LanePool } from '../../src/main/index.ts';
import { Dispatcher } from '../../src/main/service/dispatcher.ts';
import { ServiceMetrics } from '../../src/main/service/metrics.ts';
import { IntentRecords, type IntentRecord } from '../../src/main/service/records.ts';
import { ThreadEvents } from '../../src/main/service/thread-events.ts';
import type { ReactorTask } from '../../src/shared/service/intents.ts';
import type { ReactorData } from '../../src/shared/service/provider.ts';

describe('intent records of one thread', () => {
  const pool = new LanePool<ReactorTask, unknown>({
    handler: new URL('../../src/worker/service/reactor.ts', import.meta.url),
    shards: 1,
    handlerData: { simulator: { startMs: 0, sendMs: 0, interruptMs: 0, stopMs: 0 }, sessions: { maxPerWorker: 1000, idleMs: 0, maxResumeCursors: 1000 } } satisfies ReactorData,
  });
  afterAll(() => pool.close({ force: true }));

  it('never start before the previous intent settled, even when every reading of the clock is a new millisecond', async () => {
    // A clock that moves on at every reading makes any out-of-order stamp visible.
    let ms = Date.UTC(2026, 0, 1);
    const records = new IntentRecords({ maxSettled: 1000, maxAgeMs: 60_000 }, () => ms++);
    const dispatcher = new Dispatcher(pool, records, new ThreadEvents({ perThread: 100, maxAgeMs: 60_000, maxThreads: 100, maxBytes: 1 << 20 }, 0), new ServiceMetrics({
      stats: () => pool.stats(), stuckLanes: () => [], workers: () => pool.inspect(), events: () => ({ threads: 0, bytes: 0, evicted: 0 }),
    }));
    const settled: Promise<IntentRecord>[] = [];
    for (let n = 0; n < 20; n++) {
      const result = dispatcher.submit('ordered', { type: 'thread.turn.start', payload: { input: `turn ${n}` } });
      if (result.kind !== 'accepted') throw new Error(`intent ${n} was ${result.kind}`);
      settled.push(dispatcher.whenSettled(result.record));
    }
    const done = await Promise.all(settled);
    expect(done.every((record) => record.status === 'completed')).toBe(true);
    for (let n = 1; n < done.length; n++) {
      const [previous, current] = [done[n - 1]!, done[n]!];
      expect(current.startedAt! >= previous.settledAt!, `intent ${n} started at ${current.startedAt}, before ${previous.settledAt}`).toBe(true);
    }
    for (const record of done) {
      expect(record.submittedAt <= record.startedAt! && record.startedAt! <= record.settledAt!).toBe(true);
    }
  });

  it('take timestamps from a clock that never goes back, even if the wall clock does', () => {
    const readings = [5000, 1000, 3000, 7000];
    const records = new IntentRecords({ maxSettled: 10, maxAgeMs: 60_000 }, () => readings.shift()!);
    expect([records.now(), records.now(), records.now(), records.now()]).toEqual([5000, 5000, 5000, 7000]);
  });
});
