import type { TransferListItem } from 'node:worker_threads';
import type { RunMessage } from '../shared/protocol.ts';
import type { TaskContext } from './channels.ts';

/** The main thread's record of one accepted `run()` that has not settled yet. Owned by its Shard. */
export interface PendingTask {
  readonly id: number;
  readonly key: string;
  readonly control: boolean;
  /**
   * What the task counts against the byte bounds from acceptance until it settles: the caller's
   * `bytes` or the payload's estimate; 0 for a control task, which only `maxQueuedControl` bounds.
   */
  readonly bytes: number;
  /** What was sent to the worker; sent again as it is if the worker dies before starting it. */
  readonly message: RunMessage;
  /** `retry: 'idempotent'`: a started task may run once more after its worker dies. */
  readonly retry: boolean;
  /** Times a worker that had started the task died; a retried task is sent again only at 0. */
  attempts: number;
  /** Set when the worker reports that the handler was called. */
  started: boolean;
  resolve(value: unknown): void;
  reject(error: Error): void;
  /** The caller's `onStart` option. */
  onStart: (() => void) | undefined;
  /** The caller's `onEvent` option. */
  readonly onEvent: ((event: unknown) => void) | undefined;
  /** Removes the caller's abort listener, if one was added. */
  detachSignal: (() => void) | undefined;
  /** The caller's `transferList`: moved, not copied, with the message (once: see RunOptions). */
  readonly transfer: readonly TransferListItem[] | undefined;
  /** `performance.now()` at acceptance, and when the worker reported the start: for `stats()` timings. */
  readonly acceptedAt: number;
  startedAt: number;
  /** The `lanepool:task` context, while someone traces tasks. */
  readonly trace: TaskContext | undefined;
}
