/**
 * The one backoff of a partition's retry loops (record lookups and record writes while JetStream is
 * unreachable): short at first, so a blip costs little, then every 2 s, so an outage costs little.
 */
const RETRY_MS = [100, 200, 500, 1000, 2000];

/** Waits before retry number `attempt` (0 for the first retry). */
export function backoff(attempt: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, RETRY_MS[Math.min(attempt, RETRY_MS.length - 1)]));
}
