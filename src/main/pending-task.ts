/** The main thread's record of one accepted `run()` that has not settled yet. Owned by its Shard. */
export interface PendingTask {
  readonly id: number;
  readonly key: string;
  readonly control: boolean;
  /** Set when the worker reports that the handler was called. */
  started: boolean;
  resolve(value: unknown): void;
  reject(error: Error): void;
  /** The caller's `onStart` option. */
  onStart: (() => void) | undefined;
  /** Removes the caller's abort listener, if one was added. */
  detachSignal: (() => void) | undefined;
}
