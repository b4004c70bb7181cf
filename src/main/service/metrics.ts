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
  /** JetStream mode only. */
  jetstream?(): JetStreamFigures | undefined;
}

export interface JetStreamFigures {
  owned: number;
  inflight: number;
  skipped: number;
  rerun: number;
  poison: number;
  staleRefused: number;
  /** 1 while the NATS connection is up. */
  connected: number;
  takeovers: number;
  lost: number;
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
    perShard('lanepool_replayed_tasks', 'Tasks sent again to a replacement worker because the old one died before starting them', (s, i) => s.shards[i]!.replayed);
    const states = ['starting', 'ready', 'recovering', 'backoff', 'failed', 'closed'] as const;
    new Gauge({
      name: 'lanepool_shard_state', help: 'The shard worker state: 1 for the current one', labelNames: ['shard', 'state'], registers,
      collect() {
        for (const shard of sources.stats().shards) {
          for (const state of states) this.set({ shard: String(shard.id), state }, shard.state === state ? 1 : 0);
        }
      },
    });
    // A real counter, advanced by the growth of the pool's cumulative per-reason counts.
    const seen = new Map<string, number>();
    new Counter({
      name: 'lanepool_shard_restarts_total', help: 'Shard workers replaced, by reason (stall, crash, oom)', labelNames: ['shard', 'reason'], registers,
      collect() {
        for (const shard of sources.stats().shards) {
          for (const [reason, count] of Object.entries(shard.restartsByReason)) {
            const id = `${shard.id}/${reason}`;
            this.inc({ shard: String(shard.id), reason }, count - (seen.get(id) ?? 0));
            seen.set(id, count);
          }
        }
      },
    });
    new Gauge({
      name: 'lanepool_stuck_lanes', help: 'Lanes whose running intent is older than --stuck-after-ms', labelNames: ['shard'], registers,
      collect() {
        sources.stuckLanes().forEach((count, shard) => this.set({ shard: String(shard) }, count));
      },
    });
    const jetStream = (name: string, help: string, read: (figures: JetStreamFigures) => number) =>
      new Gauge({
        name, help, registers,
        collect() {
          const figures = sources.jetstream?.();
          if (figures !== undefined) this.set(read(figures));
        },
      });
    if (sources.jetstream !== undefined) {
      jetStream('lanepool_jetstream_partitions_owned', 'JetStream mode: partitions this instance consumes', (f) => f.owned);
      jetStream('lanepool_jetstream_inflight', 'JetStream mode: intents delivered here and not yet acknowledged', (f) => f.inflight);
      jetStream('lanepool_jetstream_replays_skipped', 'JetStream mode: replayed intents skipped because they had settled (cumulative)', (f) => f.skipped);
      jetStream('lanepool_jetstream_reruns', 'JetStream mode: intents run again here after a run elsewhere was cut short (cumulative)', (f) => f.rerun);
      jetStream('lanepool_jetstream_connected', 'JetStream mode: 1 while the NATS connection is up, 0 while it is down or reconnecting', (f) => f.connected);
      jetStream('lanepool_jetstream_takeovers', 'JetStream mode: partitions this instance has taken since it started (cumulative)', (f) => f.takeovers);
      jetStream('lanepool_jetstream_leases_lost', 'JetStream mode: partitions given up because their lease could not be renewed in time or was found taken (cumulative)', (f) => f.lost);
      jetStream('lanepool_jetstream_stale_writes_refused', 'JetStream mode: intent starts and record writes refused because this instance no longer held the partition: its lease had lapsed, or another owner had moved the record (cumulative)', (f) => f.staleRefused);
      jetStream('lanepool_jetstream_poison', 'JetStream mode: stream messages that were not intents, terminated (cumulative)', (f) => f.poison);
    }
  }

  observeIntent(type: IntentType, outcome: IntentStatus, seconds: number): void {
    this.#intents.inc({ type, outcome });
    this.#latency.observe({ type, outcome }, seconds);
  }
}
