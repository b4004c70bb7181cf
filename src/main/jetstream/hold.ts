/**
 * What the parts of one partition hold share (the consumer in partition.ts, its record writer): the
 * lease as a fence, the instance's counters, and the log.
 */
export interface PartitionLog {
  info(data: object, message: string): void;
  warn(data: object, message: string): void;
}

/** Counters shared by every partition of an instance, for /metrics and tests. */
export interface PartitionCounters {
  /** Replayed intents skipped because their record was already settled. */
  skipped: number;
  /** Intents that ran again after an earlier run was cut short (attempt > 1). */
  rerun: number;
  /** Messages that were not intents at all, terminated. */
  poison: number;
  /**
   * Record writes and starts refused because this hold no longer held the partition: its lease had
   * lapsed by the local clock, or the record had been moved by another owner (compare-and-set failed).
   */
  staleRefused: number;
}

/** The partition's lease as its holder sees it; the coordinator owns it. */
export interface Fence {
  /** The lease revision this hold began with: a fencing token written into every record of the hold. */
  readonly token: number;
  /**
   * True while the lease is certainly still ours, read from a monotonic clock, not a timer. False
   * once it has lapsed (and from then on), and then the coordinator gives the partition up.
   */
  holds(): boolean;
}
