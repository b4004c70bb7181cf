/**
 * The one way the pool waits for a condition with a deadline and a caller's signal (drain, per-key
 * drain, ready, close), so each of them cleans up the same way whichever comes first.
 */

export interface WaitBounds {
  /** Reject with `timeout()` after this many ms. */
  timeoutMs: number | undefined;
  /** Reject with `signal.reason` when it aborts. */
  signal: AbortSignal | undefined;
  timeout(): Error;
}

/**
 * Resolves when `subscribe`'s callback is called; rejects at the deadline or on abort. `subscribe`
 * returns its unsubscribe, called on every outcome, so nothing is left registered.
 */
export function waitFor(subscribe: (done: () => void) => () => void, bounds: WaitBounds): Promise<void> {
  const { timeoutMs, signal } = bounds;
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const finish = (error?: unknown): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      unsubscribe();
      if (error === undefined) resolve();
      else reject(error);
    };
    const onAbort = (): void => finish(signal!.reason);
    const unsubscribe = subscribe(() => finish());
    if (timeoutMs !== undefined) timer = setTimeout(() => finish(bounds.timeout()), timeoutMs);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** `promise`, unless `signal` aborts first: then a rejection with `signal.reason` (the work goes on). */
export function unlessAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
