import { describe, expect, it } from 'vitest';
import type { IntentRecord } from '../../src/main/service/records.ts';
import { ThreadEvents, type EventLimits, type ThreadEvent } from '../../src/main/service/thread-events.ts';

const limits: EventLimits = { perThread: 10, maxAgeMs: 60_000, maxThreads: 100, maxBytes: 1 << 20 };
const provider = (threadId: string, kind: string): ThreadEvent => ({ event: 'provider', data: { threadId, intentId: 'i', kind } });
const settled = (threadId: string): ThreadEvent => ({ event: 'intent', data: { intentId: 'i', threadId, type: 'thread.turn.start', status: 'completed', submittedAt: '' } as IntentRecord });

/** Subscribes with `since` and returns what was sent at once, as [id, event] pairs. */
function replay(log: ThreadEvents, threadId: string, since?: number): [number | undefined, string, any][] {
  const frames: string[] = [];
  log.subscribe(threadId, (frame) => frames.push(frame), since)();
  return frames.map((frame) => {
    const id = /^id: (\d+)$/m.exec(frame)?.[1];
    return [id === undefined ? undefined : Number(id), /^event: (\w+)$/m.exec(frame)![1]!, JSON.parse(/^data: (.*)$/m.exec(frame)![1]!)];
  });
}

describe('thread event buffers', () => {
  it('stay within --events-max-threads and --events-max-bytes with 100,000 threads, and say which resumes lost events', () => {
    const log = new ThreadEvents({ ...limits, maxThreads: 1000, maxBytes: 200_000 }, 0);
    try {
      for (let i = 0; i < 100_000; i++) {
        log.append(`thread-${i}`, provider(`thread-${i}`, 'item.completed'));
        log.append(`thread-${i}`, settled(`thread-${i}`));
        const { threads, bytes } = log.stats();
        if (threads > 1000 || bytes > 200_000) throw new Error(`over the bounds after ${i + 1} threads: ${threads} threads, ${bytes} bytes`);
      }
      expect(log.stats().evicted).toBeGreaterThan(99_000);
      // The newest thread resumes exactly; an evicted one gets a gap.
      expect(replay(log, 'thread-99999', 0).map(([, event]) => event)).toEqual(['gap', 'provider', 'intent']);
      expect(replay(log, 'thread-99999', log.head - 2).map(([, event]) => event)).toEqual(['provider', 'intent']);
      expect(replay(log, 'thread-5', 10)).toEqual([[expect.any(Number), 'gap', { threadId: 'thread-5', lastEventId: 10, lostThrough: expect.any(Number), reason: 'evicted' }]]);
    } finally {
      log.close();
    }
  });

  it('keep a followed thread\'s buffer, and drop events older than --events-max-age-ms', () => {
    let now = 0;
    const log = new ThreadEvents({ ...limits, maxThreads: 1 }, 0, () => now);
    try {
      const live: string[] = [];
      const unsubscribe = log.subscribe('followed', (frame) => live.push(frame));
      log.append('followed', provider('followed', 'a'));
      for (let i = 0; i < 10; i++) log.append(`other-${i}`, provider(`other-${i}`, 'b'));
      expect(replay(log, 'followed', 0).map(([id, event]) => [id, event])).toEqual([[1, 'provider']]);
      unsubscribe();
      now = 60_000;
      log.append('followed', provider('followed', 'c'));
      const [gap, kept] = replay(log, 'followed', 0);
      expect(gap).toEqual([1, 'gap', { threadId: 'followed', lastEventId: 0, lostThrough: 1, reason: 'expired' }]);
      expect(kept![2].kind).toBe('c');
      expect(live).toHaveLength(1); // unsubscribed before "c"
    } finally {
      log.close();
    }
  });

  it('never vouch for ids from before they began (a restart), and ignore ids that do not grow', () => {
    const log = new ThreadEvents(limits, 1000);
    try {
      log.append('t', provider('t', 'a'));
      expect(replay(log, 't', 999)[0]).toEqual([1000, 'gap', { threadId: 't', lastEventId: 999, lostThrough: 1000, reason: 'unknown' }]);
      expect(replay(log, 't', 1000).map(([id]) => id)).toEqual([1001]);
      log.add(1001, 't', provider('t', 'again'));
      expect(replay(log, 't', 1000)).toHaveLength(1);
      expect(replay(log, 't', 5000)[0]![2]).toMatchObject({ reason: 'unknown', lastEventId: 5000 });
    } finally {
      log.close();
    }
  });
});
