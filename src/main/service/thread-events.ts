/**
 * A thread's event stream (GET /v1/threads/:threadId/events): its provider events and intent
 * settlements, each with an id, kept in a bounded buffer per thread so a client that reconnects with
 * `Last-Event-ID` gets what it missed, or an explicit `gap` when that is gone.
 *
 *   thread "t1":  lost ≤ 41 │ 42 provider │ 43 provider │ 47 intent │  ◄── append (ids only grow)
 *                           └─ the buffer covers (lost, last]: a resume from 41 or later is exact
 *
 * Ids. Every event this log holds has an id greater than every earlier one, across threads: per
 * thread they increase, but they are not consecutive. Who picks them is the backend's choice:
 * `append` takes the next one of this process (memory mode: a sequence that starts at the start time
 * in microseconds, so ids keep growing across restarts); `add` takes one given (JetStream mode: the
 * events stream's sequence, see ../jetstream/event-feed.ts).
 *
 * Bounds, so memory stays bounded however many threads there are: at most `perThread` events per
 * thread, none older than `maxAgeMs`, at most `maxThreads` threads with a buffer and `maxBytes` of
 * frames in all. Past a bound the oldest go first (the thread's own oldest event, or the least
 * recently appended thread's whole buffer); a thread with an open stream keeps its buffer, so the
 * map is bounded by the bounds plus the open streams.
 *
 * `lost` is the one rule for gaps: a thread's buffer vouches for every event with an id above it. A
 * dropped event raises it to its id; a thread whose buffer was evicted, or that this process never
 * saw, starts a new buffer at `#forgotten` (the highest id of any evicted buffer, or where this
 * process began). A resume from below `lost` gets a `gap` first: events in (Last-Event-ID, lost] may
 * be missing (may: the thread had none there, perhaps). Only this class moves `lost`.
 */
import { messageOf } from '../../shared/errors.ts';
import type { IntentRecord } from './records.ts';

/** The data of an `event: provider` frame: a provider event of one of the thread's intents. */
export interface ProviderEventData {
  threadId: string;
  intentId: string;
  kind: string;
  requestId?: string;
  turnId?: string;
  data?: unknown;
}

/** What a thread's stream carries, before it has an id: the SSE `event` field and its `data`. */
export type ThreadEvent =
  | { event: 'provider'; data: ProviderEventData }
  | { event: 'intent'; data: IntentRecord };

/** Why a resume found events missing, the `reason` of a `gap` frame. */
export type GapReason =
  /** More than `--events-per-thread` events came after it. */
  | 'overflow'
  /** Older than `--events-max-age-ms`. */
  | 'expired'
  /** The thread's buffer was evicted (idle past the thread or byte bound). */
  | 'evicted'
  /** From before this instance kept the thread's events (a restart, or another instance's id). */
  | 'unknown';

/** The data of an `event: gap` frame. */
export interface GapData {
  threadId: string;
  /** The client's Last-Event-ID. */
  lastEventId: number;
  /** Events with ids in (lastEventId, lostThrough] may be missing; this is also the frame's own id. */
  lostThrough: number;
  reason: GapReason;
}

/** Receives a thread's frames, ready to write to the SSE response. */
export type Subscriber = (frame: string) => void;

/** Where a run's thread events go: the log itself (memory mode), or a publisher (JetStream mode). */
export interface ThreadEventSink {
  append(threadId: string, event: ThreadEvent): void;
}

export interface EventLimits {
  perThread: number;
  maxAgeMs: number;
  maxThreads: number;
  maxBytes: number;
}

/**
 * A thread's buffer. Its events are kept as three parallel arrays, oldest first, not as an object
 * per event: a buffer holds up to `perThread` events for minutes, so each one outlives the young
 * generation, and an object per event (plus a boxed number for each of its id and time) tripled what
 * the garbage collector copies and marks for it. Index i of each array is the same event.
 */
interface ThreadLog {
  readonly threadId: string;
  ids: number[];
  frames: string[];
  /** When each was appended, by the log's clock (ms). */
  ats: number[];
  bytes: number;
  lost: number;
  lostReason: GapReason;
  /** The id of its newest event, or `lost` while it has none. */
  last: number;
  readonly subscribers: Set<Subscriber>;
}

/** Where `append` starts: microseconds since the epoch at start, so ids outgrow an earlier run's. */
export function sequenceStart(now = Date.now()): number {
  return now * 1000;
}

export class ThreadEvents implements ThreadEventSink {
  readonly #limits: EventLimits;
  readonly #clock: () => number;
  /** Least recently appended first (a `Map` keeps insertion order; an append re-inserts). */
  readonly #threads = new Map<string, ThreadLog>();
  #bytes = 0;
  /** The highest id handed out or added. */
  #head: number;
  /** Ids up to this one are not vouched for by a buffer created now (see the module comment). */
  #forgotten: number;
  #evicted = 0;
  /** The buffer appended to last: the last of `#threads`' order, while it is in the map. */
  #newest: ThreadLog | undefined;
  #sweep: NodeJS.Timeout | undefined;

  /** `start`: the id below every id this log will hold (see `sequenceStart`). */
  constructor(limits: EventLimits, start: number, clock: () => number = Date.now) {
    this.#limits = limits;
    this.#clock = clock;
    this.#head = this.#forgotten = start;
    // Idle threads' buffers go once they expire, even if nothing else is ever appended.
    const every = Math.max(1000, Math.min(60_000, Math.floor(limits.maxAgeMs / 4)));
    this.#sweep = setInterval(() => this.#expireIdle(), every);
    this.#sweep.unref();
  }

  /** Appends with the next id of this process (memory mode). */
  append(threadId: string, event: ThreadEvent): void {
    this.add(this.#head + 1, threadId, event);
  }

  /** Appends with an id given by the backend; one not above every earlier id is ignored. */
  add(id: number, threadId: string, event: ThreadEvent): void {
    if (id <= this.#head) return;
    this.#head = id;
    const log = this.#log(threadId);
    const now = this.#clock();
    const frame = flat(`id: ${id}\nevent: ${event.event}\ndata: ${json(threadId, event.data)}\n\n`);
    log.ids.push(id);
    log.frames.push(frame);
    log.ats.push(now);
    log.bytes += frame.length;
    this.#bytes += frame.length;
    log.last = id;
    // Most recently appended last (already so when this thread appended last).
    if (this.#newest !== log) {
      this.#threads.delete(threadId);
      this.#threads.set(threadId, log);
      this.#newest = log;
    }
    // A subscriber may unsubscribe (or another subscribe) while being called: iterate over a copy.
    if (log.subscribers.size > 0) for (const subscriber of [...log.subscribers]) subscriber(frame);
    this.#trim(log, now);
    this.#bound();
  }

  /**
   * Everything from `sinceId` on is sent to `subscriber` at once (a `gap` frame first if some of it
   * is gone), then each new frame as it comes. Without `sinceId`, only new frames. Returns the
   * unsubscribe.
   */
  subscribe(threadId: string, subscriber: Subscriber, sinceId?: number): () => void {
    const log = this.#log(threadId);
    this.#trim(log, this.#clock());
    if (sinceId !== undefined) {
      if (sinceId < log.lost) {
        const gap: GapData = { threadId, lastEventId: sinceId, lostThrough: log.lost, reason: log.lostReason };
        subscriber(`id: ${log.lost}\nevent: gap\ndata: ${JSON.stringify(gap)}\n\n`);
      } else if (sinceId > this.#head) {
        // An id this instance never reached: another deployment's, or a clock set back. Say so.
        const gap: GapData = { threadId, lastEventId: sinceId, lostThrough: sinceId, reason: 'unknown' };
        subscriber(`event: gap\ndata: ${JSON.stringify(gap)}\n\n`);
      }
      for (let i = 0; i < log.ids.length; i++) if (log.ids[i]! > sinceId) subscriber(log.frames[i]!);
    }
    log.subscribers.add(subscriber);
    return () => {
      log.subscribers.delete(subscriber);
      if (log.subscribers.size === 0 && log.ids.length === 0 && this.#threads.get(threadId) === log) this.#remove(log);
    };
  }

  /**
   * Ids up to `id` may have been lost everywhere (JetStream mode: the feed found the stream had moved
   * past messages it never delivered). Every buffer stops vouching for them.
   */
  lostThrough(id: number): void {
    this.#forgotten = Math.max(this.#forgotten, id);
    for (const log of this.#threads.values()) {
      if (log.lost < id) {
        log.lost = id;
        log.lostReason = 'unknown';
      }
    }
    this.#head = Math.max(this.#head, id);
  }

  /** The highest id so far. */
  get head(): number {
    return this.#head;
  }

  /** For /metrics and tests: threads with a buffer, bytes of frames held, buffers evicted so far. */
  stats(): { threads: number; bytes: number; evicted: number } {
    return { threads: this.#threads.size, bytes: this.#bytes, evicted: this.#evicted };
  }

  close(): void {
    clearInterval(this.#sweep);
  }

  #log(threadId: string): ThreadLog {
    let log = this.#threads.get(threadId);
    if (log === undefined) {
      const lost = this.#forgotten;
      log = { threadId, ids: [], frames: [], ats: [], bytes: 0, lost, lostReason: this.#evicted > 0 ? 'evicted' : 'unknown', last: lost, subscribers: new Set() };
      this.#threads.set(threadId, log);
      this.#newest = log;
    }
    return log;
  }

  /** Drops the thread's events past its count bound or age. */
  #trim(log: ThreadLog, now: number): void {
    const { perThread, maxAgeMs } = this.#limits;
    let drop = 0;
    let reason: GapReason = 'overflow';
    const count = log.ids.length;
    while (drop < count) {
      if (count - drop > perThread) reason = 'overflow';
      else if (now - log.ats[drop]! >= maxAgeMs) reason = 'expired';
      else break;
      drop++;
    }
    if (drop > 0) this.#dropOldest(log, drop, reason);
  }

  #dropOldest(log: ThreadLog, count: number, reason: GapReason): void {
    let bytes = 0;
    for (let i = 0; i < count; i++) bytes += log.frames[i]!.length;
    log.lost = log.ids[count - 1]!;
    log.ids.splice(0, count);
    log.frames.splice(0, count);
    log.ats.splice(0, count);
    log.bytes -= bytes;
    this.#bytes -= bytes;
    log.lostReason = reason;
  }

  /** Past the thread or byte bound: the least recently appended buffers without subscribers go whole. */
  #bound(): void {
    const { maxThreads, maxBytes } = this.#limits;
    if (this.#threads.size <= maxThreads && this.#bytes <= maxBytes) return;
    for (const log of this.#threads.values()) {
      if (this.#threads.size <= maxThreads && this.#bytes <= maxBytes) return;
      if (log.subscribers.size === 0) this.#evict(log);
    }
    // Every remaining buffer has a subscriber: their oldest events go instead, oldest thread first.
    for (const log of this.#threads.values()) {
      if (this.#bytes <= maxBytes) return;
      if (log.ids.length > 1) this.#dropOldest(log, log.ids.length - 1, 'overflow');
    }
  }

  #evict(log: ThreadLog): void {
    this.#remove(log);
    this.#evicted++;
  }

  /** The buffer goes; what it vouched for goes with it, so a new one starts above its newest id. */
  #remove(log: ThreadLog): void {
    this.#threads.delete(log.threadId);
    if (this.#newest === log) this.#newest = undefined;
    this.#bytes -= log.bytes;
    this.#forgotten = Math.max(this.#forgotten, log.last);
  }

  /** Buffers whose newest event has expired and that nobody follows: gone, from the least recently appended on. */
  #expireIdle(): void {
    const cutoff = this.#clock() - this.#limits.maxAgeMs;
    for (const log of this.#threads.values()) {
      const newest = log.ats.at(-1);
      if (newest !== undefined && newest > cutoff) return;
      if (log.subscribers.size === 0) this.#evict(log);
    }
  }
}

/**
 * The frame as one flat string. A template literal builds a rope (V8's cons strings: about eight
 * objects for a frame), and a buffered frame kept it so for its whole life in the buffer, which
 * doubled the memory the buffers hold for their characters and multiplied the objects the garbage
 * collector copies and marks. Reading a character makes V8 flatten the rope in place, after which
 * the collector keeps only the flat string (the trick of the `flatstr` package, which pino used).
 */
function flat(frame: string): string {
  frame.charCodeAt(0);
  return frame;
}

/**
 * The frame's data. Structured clone carries what JSON cannot (a cycle, a BigInt): such an event
 * keeps its place and id, with its data replaced by a note saying so.
 */
function json(threadId: string, data: unknown): string {
  try {
    return JSON.stringify(data);
  } catch (error) {
    return JSON.stringify({ threadId, unserializable: messageOf(error) });
  }
}
