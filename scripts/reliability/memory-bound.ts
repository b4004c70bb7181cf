/**
 * The memory-bound scenario: a service child with a small heap (`--max-old-space-size`), each of
 * `threads` threads wedged by a session start that hangs forever, then `intents` large turn starts
 * spread over those threads, so everything accepted stays queued. It reports the byte bounds the
 * service derived from its heap, what it accepted and refused, whether the process survived, and
 * whether every accepted intent settled once each thread was stopped.
 *
 * Three shapes of intent, each about `inputChars` bytes of JSON, attack how bytes are counted:
 * - `ascii`: a turn start whose input is one Latin-1 string (one heap byte per body byte);
 * - `wide`: the same with one character outside Latin-1, so V8 stores the string two bytes per character;
 * - `keys`: a user-input response whose answers object has one small field per ~14 bytes of body,
 *   which V8 keeps as a hash table at several heap bytes per body byte. Answers are control intents
 *   (they run beside the turn that waits for them), so for them each thread has a live session and
 *   a turn that hangs instead of a hung start, and the simulator takes a minute per answer
 *   (`--sim-send-ms`): the answers pile up running, counted by their own byte budget (answer-bytes.ts).
 */
import { request } from 'undici';
import { startInstance } from '../jetstream/instances.ts';

export interface MemoryBoundOptions {
  /** The child's `--max-old-space-size`, in MB. */
  heapMb: number;
  threads: number;
  intents: number;
  /** Characters of each intent's input (at most 262,144, the payload schema's limit). */
  inputChars: number;
  /** @default 'ascii' */
  shape?: IntentShape;
  /** Extra `lanepool serve` flags, e.g. to lift the byte bounds and show what happens without them. */
  flags?: string[];
  /** Requests in flight at once. @default 4 */
  concurrency?: number;
}

export type IntentShape = 'ascii' | 'wide' | 'keys';

export interface MemoryBoundReport {
  heapMb: number;
  shape: IntentShape;
  /** The bounds the child logged at start (derived from its heap limit unless flags set them). */
  maxQueuedBytes: number;
  maxQueuedBytesPerThread: number;
  /** Request body bytes of one large intent. */
  intentBytes: number;
  sent: number;
  accepted: number;
  /** Sum of the accepted large intents' body bytes, all still queued when the flood ended. */
  acceptedBytes: number;
  refused: number;
  /** 429s by the limit their message names. */
  refusedBy: Record<string, number>;
  /** Requests that got neither 202 nor 429 (a dead process answers none). */
  failed: number;
  survived: boolean;
  /** Of the accepted intents, those whose record had settled after every thread was stopped. */
  settledAfterStop: number;
  /** The child's main-thread heap in use just after the flood, from /metrics. */
  heapUsedBytes: number | undefined;
  /** A fresh turn on a stopped thread completed afterwards. */
  usableAfter: boolean;
  seconds: number;
}

interface Reply {
  status: number;
  body: { intentId?: string; status?: string; error?: { code: string; message: string } } | undefined;
}

export async function runMemoryBound(options: MemoryBoundOptions): Promise<MemoryBoundReport> {
  const started = performance.now();
  const shape = options.shape ?? 'ascii';
  const slowAnswers = shape === 'keys' ? ['--sim-send-ms', '60000'] : [];
  const instance = await startInstance('memory-bound', ['--shards', '1', ...slowAnswers, ...(options.flags ?? [])], {
    NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --max-old-space-size=${options.heapMb}`.trim(),
  });
  const listening = instance.log().split('\n').find((line) => line.includes('lanepool service listening'));
  const { maxQueuedBytes, maxQueuedBytesPerThread } = JSON.parse(listening!) as { maxQueuedBytes: number; maxQueuedBytesPerThread: number };
  const call = async (method: 'GET' | 'POST', path: string, body?: unknown): Promise<Reply> => {
    try {
      const res = await request(`${instance.url}${path}`, {
        method, ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
      });
      const text = await res.body.text();
      return { status: res.statusCode, body: text ? JSON.parse(text) as Reply['body'] : undefined };
    } catch {
      return { status: 0, body: undefined };
    }
  };
  try {
    const threads = Array.from({ length: options.threads }, (_, i) => `memory-${i}`);
    for (const thread of threads) {
      if (shape === 'keys') {
        const session = await call('POST', `/v1/threads/${thread}/intents?wait=true`, { type: 'thread.turn.start', payload: { input: 'start', simulate: { turnHangMs: 0 } } });
        if (session.body?.status !== 'completed') throw new Error(`the first turn on ${thread} got ${session.status} ${session.body?.status}`);
      }
      const simulate = shape === 'keys' ? { turnHangMs: 'forever' } : { startHangMs: 'forever' };
      const hung = await call('POST', `/v1/threads/${thread}/intents`, { type: 'thread.turn.start', payload: { input: 'hang', simulate } });
      if (hung.status !== 202) throw new Error(`the hung start on ${thread} got ${hung.status}`);
    }
    const submission = submissionOf(shape, options.inputChars);
    const intentBytes = Buffer.byteLength(JSON.stringify(submission));
    const accepted: string[] = [];
    const refusedBy: Record<string, number> = {};
    let refused = 0;
    let failed = 0;
    let next = 0;
    const sender = async (): Promise<void> => {
      while (next < options.intents) {
        const thread = threads[next++ % threads.length]!;
        const reply = await call('POST', `/v1/threads/${thread}/intents`, submission);
        if (reply.status === 202) accepted.push(reply.body!.intentId!);
        else if (reply.status === 429) {
          refused++;
          const limit = /: (max\w+) is/.exec(reply.body?.error?.message ?? '')?.[1] ?? 'unknown';
          refusedBy[limit] = (refusedBy[limit] ?? 0) + 1;
        } else failed++;
      }
    };
    await Promise.all(Array.from({ length: options.concurrency ?? 4 }, sender));
    const metrics = await request(`${instance.url}/metrics`).then((res) => res.body.text()).catch(() => '');
    const heapUsed = /^nodejs_heap_size_used_bytes (\d+)/m.exec(metrics)?.[1];
    const survived = instance.process.exitCode === null && instance.process.signalCode === null && (await call('GET', '/healthz')).status === 200;

    let settledAfterStop = 0;
    let usableAfter = false;
    if (survived) {
      for (const thread of threads) await call('POST', `/v1/threads/${thread}/intents?wait=true`, { type: 'thread.session.stop', payload: {} });
      for (const intentId of accepted) {
        const record = await call('GET', `/v1/intents/${intentId}`);
        if (record.status === 200 && !['queued', 'running'].includes(record.body?.status ?? '')) settledAfterStop++;
      }
      const fresh = await call('POST', `/v1/threads/${threads[0]}/intents?wait=true`, { type: 'thread.turn.start', payload: { input: 'after', simulate: { turnHangMs: 0 } } });
      usableAfter = fresh.status === 200 && fresh.body?.status === 'completed';
    }
    return {
      heapMb: options.heapMb, shape, maxQueuedBytes, maxQueuedBytesPerThread, intentBytes, sent: options.intents, accepted: accepted.length,
      acceptedBytes: accepted.length * intentBytes, refused, refusedBy, failed, survived, settledAfterStop,
      heapUsedBytes: heapUsed === undefined ? undefined : Number(heapUsed), usableAfter, seconds: (performance.now() - started) / 1000,
    };
  } finally {
    await instance.kill();
  }
}

function submissionOf(shape: IntentShape, chars: number): { type: string; payload: unknown } {
  switch (shape) {
    case 'ascii':
      return { type: 'thread.turn.start', payload: { input: 'x'.repeat(chars) } };
    case 'wide':
      return { type: 'thread.turn.start', payload: { input: `${'x'.repeat(chars - 1)}\u4e00` } };
    case 'keys': {
      const answers = Object.fromEntries(Array.from({ length: Math.floor(chars / 14) }, (_, i) => [`k${i}`, i]));
      return { type: 'thread.user-input.respond', payload: { requestId: 'memory', answers } };
    }
  }
}
