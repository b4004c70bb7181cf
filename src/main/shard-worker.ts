/**
 * One shard's worker life: the piscina instance that keeps a single worker alive, the attach task,
 * the channel to the worker, its shared memory, and recovery when it dies or stalls.
 *
 *   starting --ready--> ready --dies / stalls--> recovering --exited--> backoff --> starting ...
 *                                                        (a worker that keeps failing to boot: failed)
 *
 * Recovery waits for the old thread to exit before it reports the loss, so the started table it
 * hands over can no longer change (the "started" rule: protocol.ts's header). A stalled worker is stopped through piscina's abort, which
 * terminates the thread and starts a replacement for the same shard.
 */
import { once } from 'node:events';
import { MessageChannel, type MessagePort, type TransferListItem, type Worker } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { HandlerLoadError, fromWire, messageOf, type RestartReason } from '../shared/errors.ts';
import { FROM_SOURCE } from '../shared/module-url.ts';
import { Outbox } from '../shared/outbox.ts';
import type { AttachRequest, AttachResult, FromWorker, ToWorker } from '../shared/protocol.ts';
import { ShardMemory } from '../shared/shard-memory.ts';
import { within } from '../shared/within.ts';
import type { ResolvedOptions } from './options.ts';

/** The compiled entry.js from dist/; from the sources, entry.mjs, which registers tsx first. */
const ENTRY = new URL(FROM_SOURCE ? '../worker/entry.mjs' : '../worker/entry.js', import.meta.url).href;
/** A worker that stayed up this long before dying resets the crash-loop backoff. */
const HEALTHY_UPTIME_MS = 5_000;
const FIRST_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 10_000;
/** Workers that die before ever loading the handler this many times in a row mark the shard failed. */
const MAX_BOOT_FAILURES = 3;
/** How long close() waits for the worker to finish its attach task, and recovery for a thread to exit. */
const GRACE_MS = 2_000;

export type WorkerState = 'starting' | 'ready' | 'recovering' | 'backoff' | 'failed' | 'closed';

export interface WorkerEvents {
  /**
   * The worker has loaded the handler: the state is now `ready` (or still `closed`, if close() came
   * first). Comes before the `message` of the batch that said so.
   */
  ready(): void;
  /** A batch from the current worker. */
  message(batch: FromWorker[]): void;
  /** The worker is gone (or going): from now on, hold what you send until `lost`. */
  down(): void;
  /** The old thread has exited and a new channel is open; `started` are the tasks it had started. */
  lost(reason: RestartReason, detail: string, started: Set<number>): void;
  /** The shard can never run a task. */
  fatal(error: Error): void;
  /** The state moved from `from` to the current one. */
  state(from: WorkerState): void;
  /** The next worker starts in `delayMs`; `streak` counts the failures in a row. */
  backoff(delayMs: number, streak: number): void;
}

export class ShardWorker {
  readonly #shard: number;
  readonly #options: ResolvedOptions;
  readonly #events: WorkerEvents;
  readonly #piscina: Piscina<AttachRequest, AttachResult>;
  #state: WorkerState = 'starting';
  #port!: MessagePort;
  #outbox!: Outbox<ToWorker>;
  /** The worker's end of the current channel, until an attach task takes it. */
  #pendingPort: MessagePort | undefined;
  #memory!: ShardMemory;
  #abort: AbortController | undefined;
  #attach: Promise<unknown> | undefined;
  #exited: Promise<unknown> = Promise.resolve();
  /** Why the watchdog stopped the current worker; undefined if it did not. */
  #stalled: string | undefined;
  #backoffTimer: NodeJS.Timeout | undefined;
  /** The current worker's load deadline (`loadTimeoutMs`), until it reports ready. */
  #loadTimer: NodeJS.Timeout | undefined;
  #readyAt = 0;
  #crashStreak = 0;
  #bootFailures = 0;
  readonly restarts: Record<RestartReason, number> = { stall: 0, crash: 0, oom: 0 };

  constructor(shard: number, options: ResolvedOptions, events: WorkerEvents, onUnsendable: (message: ToWorker, error: unknown) => void) {
    this.#shard = shard;
    this.#options = options;
    this.#events = events;
    this.#onUnsendable = onUnsendable;
    this.#piscina = new Piscina({
      filename: ENTRY,
      name: 'default',
      minThreads: 1,
      maxThreads: 1,
      concurrentTasksPerWorker: 1,
      // Workers must keep running timers and I/O between messages: no Atomics.wait when idle.
      atomics: 'disabled',
      idleTimeout: 2 ** 31 - 1,
      ...(options.resourceLimits ? { resourceLimits: options.resourceLimits } : {}),
    });
    // A worker that dies while no attach task runs (during backoff) is reported here, not thrown.
    this.#piscina.on('error', () => {});
    this.#openChannel();
    this.#startAttach();
  }

  readonly #onUnsendable: (message: ToWorker, error: unknown) => void;

  get state(): WorkerState {
    return this.#state;
  }

  /** Queues a message for the current worker; it leaves at the end of this event-loop turn. */
  send(message: ToWorker, transfer?: readonly TransferListItem[]): void {
    this.#outbox.push(message, transfer);
  }

  /** The one place the state changes, so every transition is reported. */
  #enter(state: WorkerState): void {
    const from = this.#state;
    if (from === state) return;
    this.#state = state;
    this.#events.state(from);
  }

  /**
   * The heartbeat counter of the attached worker, once it has beaten at all; undefined otherwise
   * (no worker, or one still booting, which is piscina's and the attach task's to report).
   */
  heartbeat(): number | undefined {
    if (this.#state !== 'ready' && this.#state !== 'starting') return undefined;
    const beat = this.#memory.heartbeat();
    return beat > 0 ? beat : undefined;
  }

  /** True while the attached worker is inside a postMessage. */
  posting(): boolean {
    return (this.#state === 'ready' || this.#state === 'starting') && this.#memory.posting();
  }

  /** The watchdog saw no heartbeat for too long: stop the worker; recovery follows. */
  stall(detail: string): void {
    if ((this.#state !== 'ready' && this.#state !== 'starting') || this.#abort === undefined) return;
    this.#stalled = detail;
    this.#abort.abort(new Error('stalled: no heartbeat'));
  }

  async close(): Promise<void> {
    const attached = this.#state === 'ready' || this.#state === 'starting';
    this.#enter('closed');
    clearTimeout(this.#backoffTimer);
    clearTimeout(this.#loadTimer);
    if (attached && this.#attach) {
      this.#outbox.push({ t: 'close' });
      this.#outbox.flush();
      await within(this.#attach, GRACE_MS);
    }
    this.#port.close();
    await this.#piscina.destroy();
  }

  #openChannel(): void {
    const { port1, port2 } = new MessageChannel();
    this.#port = port1;
    this.#outbox = new Outbox<ToWorker>(port1, this.#onUnsendable);
    port1.on('message', (batch: FromWorker[]) => {
      // The worker's life moves forward here, before the shard reads the batch: the shard only learns of it.
      if (batch.some((message) => message.t === 'ready')) this.#ready();
      this.#events.message(batch);
    });
    this.#pendingPort = port2;
  }

  #startAttach(): void {
    const port = this.#pendingPort!;
    this.#pendingPort = undefined;
    this.#enter('starting');
    this.#stalled = undefined;
    this.#readyAt = 0;
    this.#memory = new ShardMemory();
    const abort = new AbortController();
    this.#abort = abort;
    const request: AttachRequest = {
      shard: this.#shard, port, handler: this.#options.handlerUrl, handlerData: this.#options.handlerData,
      memory: this.#memory.buffer, heartbeatMs: this.#options.stallTimeoutMs > 0 ? Math.max(10, Math.floor(this.#options.stallTimeoutMs / 5)) : 0,
      maxEventBytes: this.#options.maxQueuedBytesPerKey,
    };
    const attach = this.#piscina.run(request, { transferList: [port], signal: abort.signal });
    // Kept on this side, not raced inside the worker: a top-level `while (true)` or Atomics.wait
    // blocks the worker's own timers, and only the main thread can still see the deadline pass.
    if (this.#options.loadTimeoutMs > 0) {
      this.#loadTimer = setTimeout(() => this.#loadExpired(abort), this.#options.loadTimeoutMs);
      this.#loadTimer.unref();
    }
    this.#attach = attach;
    // min = max = 1 thread: the pool's only thread is the one running this attach task.
    const worker: Worker | undefined = this.#piscina.threads[0];
    this.#exited = worker ? once(worker, 'exit').catch(() => undefined) : Promise.resolve();
    attach.then(
      (result) => {
        if (this.#abort !== abort || this.#state === 'closed' || this.#state === 'failed') return;
        if ('fatal' in result) this.#fail(fromWire(result.fatal));
        else void this.#recover(new Error('worker left its attach task'));
      },
      (error: unknown) => {
        if (this.#abort !== abort || this.#state === 'closed' || this.#state === 'failed') return;
        void this.#recover(error);
      },
    );
  }

  /** The worker did not load the handler in time: fail the shard (a retry would hang the same way). */
  #loadExpired(abort: AbortController): void {
    // Loaded but its ready message still in flight: it made the deadline.
    if (this.#abort !== abort || this.#state !== 'starting' || this.#memory.loaded()) return;
    const { handlerUrl: handler, loadTimeoutMs } = this.#options;
    this.#fail(new HandlerLoadError({
      handler, detail: `it did not load within ${loadTimeoutMs} ms (loadTimeoutMs): its import, top-level await or init() never finished`,
    }));
    abort.abort(new Error('handler load timed out'));
  }

  async #recover(cause: unknown): Promise<void> {
    clearTimeout(this.#loadTimer);
    this.#enter('recovering');
    this.#abort = undefined;
    const reason: RestartReason = this.#stalled !== undefined ? 'stall'
      : (cause as { code?: unknown })?.code === 'ERR_WORKER_OUT_OF_MEMORY' ? 'oom' : 'crash';
    const detail = this.#stalled ?? messageOf(cause);
    this.restarts[reason]++;
    this.#events.down();
    this.#outbox.discard();
    this.#port.close();
    await within(this.#exited, GRACE_MS);
    if (this.#state !== 'recovering') return; // closed meanwhile
    const started = this.#memory.startedIds();
    this.#openChannel();
    if (this.#memory.loaded()) this.#bootFailures = 0;
    else if (++this.#bootFailures >= MAX_BOOT_FAILURES) {
      this.#fail(new HandlerLoadError({ handler: this.#options.handlerUrl, detail: `the worker died ${MAX_BOOT_FAILURES} times before loading it: ${detail}` }));
      return;
    }
    this.#events.lost(reason, detail, started);
    if (this.#readyAt > 0 && Date.now() - this.#readyAt > HEALTHY_UPTIME_MS) this.#crashStreak = 0;
    const delay = this.#crashStreak === 0 ? 0 : Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** (this.#crashStreak - 1));
    this.#crashStreak++;
    this.#enter('backoff');
    this.#events.backoff(delay, this.#crashStreak);
    this.#backoffTimer = setTimeout(() => {
      if (this.#state === 'backoff') this.#startAttach();
    }, delay);
  }

  /** The worker says it has loaded the handler (its `ready` message). */
  #ready(): void {
    if (this.#state === 'starting') {
      clearTimeout(this.#loadTimer);
      this.#enter('ready');
      this.#readyAt = Date.now();
    }
    this.#events.ready();
  }

  #fail(error: Error): void {
    clearTimeout(this.#loadTimer);
    this.#enter('failed');
    this.#events.fatal(error);
  }
}
