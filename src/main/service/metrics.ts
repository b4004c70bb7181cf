/**
 * The service's Prometheus metrics. A registry per service instance (not prom-client's global), so
 * several services can live in one process, as in the tests.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { IntentType } from '../../shared/intents.ts';
import type { PoolStats } from '../pool.ts';
import type { IntentStatus } from './records.ts';

export interface MetricsSources {
  stats(): PoolStats;
  /** Per shard: lanes whose running intent is older than the stuck threshold. */
  stuckLanes(): number[];
}

export class ServiceMetrics {
  readonly registry = new Registry();
  readonly #intents: Counter<'type' | 'outcome'>;
  readonly #latency: Histogram<'type' | 'outcome'>;

  constructor(sources: MetricsSources) {
    const registers = [this.registry];
    // Includes nodejs_eventloop_lag_p99_seconds: the main event loop's lag.
    collectDefaultMetrics({ register: this.registry });
    this.#intents = new Counter({
      name: 'lanepool_intents_total', help: 'Intents settled, by type and outcome', labelNames: ['type', 'outcome'], registers,
    });
    this.#latency = new Histogram({
      name: 'lanepool_intent_duration_seconds', help: 'Time from submission to settlement', labelNames: ['type', 'outcome'], registers,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    });
    const perShard = (name: string, help: string, read: (stats: PoolStats, shard: number) => number) =>
      new Gauge({
        name, help, labelNames: ['shard'], registers,
        collect() {
          const stats = sources.stats();
          for (const shard of stats.shards) this.set({ shard: String(shard.id) }, read(stats, shard.id));
        },
      });
    perShard('lanepool_queue_depth', 'Intents sent to the shard and not yet started', (s, i) => s.shards[i]!.queued);
    perShard('lanepool_running', 'Intents running on the shard', (s, i) => s.shards[i]!.running);
    perShard('lanepool_active_lanes', 'Threads with unsettled intents on the shard', (s, i) => s.shards[i]!.lanes);
    perShard('lanepool_abandoned_tasks', 'Timed-out or cancelled handlers still running on the shard', (s, i) => s.shards[i]!.abandoned);
    perShard('lanepool_shard_restarts', 'Times the shard worker was replaced', (s, i) => s.shards[i]!.restarts);
    new Gauge({
      name: 'lanepool_stuck_lanes', help: 'Lanes whose running intent is older than --stuck-after-ms', labelNames: ['shard'], registers,
      collect() {
        sources.stuckLanes().forEach((count, shard) => this.set({ shard: String(shard) }, count));
      },
    });
  }

  observeIntent(type: IntentType, outcome: IntentStatus, seconds: number): void {
    this.#intents.inc({ type, outcome });
    this.#latency.observe({ type, outcome }, seconds);
  }
}
