/**
 * The service's Prometheus metrics. A registry per service instance (not prom-client's global), so
 * several services can live in one process, as in the tests.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { IntentType } from '../../shared/service/intents.ts';
import type { WorkerReport } from '../../shared/protocol.ts';
import type { ReactorStats } from '../../shared/service/provider.ts';
import type { PoolStats } from '../pool.ts';
import type { ShardStats } from '../shard.ts';
import type { Timing } from '../timing.ts';
import type { IntentStatus } from './records.ts';

export interface MetricsSources {
  stats(): PoolStats;
  /** Per shard: lanes whose running intent is older than the stuck threshold. */
  stuckLanes(): number[];
  /** Per shard: the worker's own report (heap, the reactor's sessions), or undefined if it did not answer in time. */
  workers(): Promise<(WorkerReport | undefined)[]>;
  /** The thread events' buffers (thread-events.ts). */
  events(): { threads: number; bytes: number; evicted: number };
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
  readonly #sseDropped: Counter;

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
    this.#sseDropped = new Counter({
      name: 'lanepool_sse_dropped_total', help: 'Events subscribers disconnected for falling more than --sse-max-buffer-bytes behind', registers,
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
    perShard('lanepool_shard_utilization', 'Share of the shard\'s life with at least one intent running (0 to 1)', (s, i) => s.shards[i]!.utilization);
    // The pool's own histograms (stats().wait and .run), read at scrape time: quantiles per shard, as a
    // summary shows them, with no second histogram kept on the hot path. quantile="1" is the max.
    const quantiles = (name: string, help: string, read: (shard: ShardStats) => Timing) =>
      new Gauge({
        name, help, labelNames: ['shard', 'quantile'], registers,
        collect() {
          for (const shard of sources.stats().shards) {
            const timing = read(shard);
            const id = String(shard.id);
            this.set({ shard: id, quantile: '0.5' }, timing.p50 / 1000);
            this.set({ shard: id, quantile: '0.99' }, timing.p99 / 1000);
            this.set({ shard: id, quantile: '1' }, timing.max / 1000);
          }
        },
      });
    quantiles('lanepool_task_wait_seconds', 'Time from acceptance to the handler\'s start, by shard, since start', (shard) => shard.wait);
    quantiles('lanepool_task_run_seconds', 'Time from the handler\'s start to settlement, by shard, since start', (shard) => shard.run);
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
    const events = (name: string, help: string, read: (figures: ReturnType<MetricsSources['events']>) => number) =>
      new Gauge({ name, help, registers, collect() { this.set(read(sources.events())); } });
    events('lanepool_event_buffers', 'Threads whose events are kept for reconnecting clients', (e) => e.threads);
    events('lanepool_event_buffer_bytes', 'Characters of thread events kept for reconnecting clients', (e) => e.bytes);
    events('lanepool_event_buffers_evicted', 'Thread event buffers evicted (idle, or past --events-max-threads or --events-max-bytes) since start', (e) => e.evicted);
    this.#workerMetrics(sources, registers);
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

  /**
   * Gauges the workers report about themselves, read at scrape time. One probe per scrape feeds them
   * all (every collect starts in the same tick, so they share it); a shard whose worker did not answer
   * is left out of that scrape rather than shown with stale figures.
   */
  #workerMetrics(sources: MetricsSources, registers: Registry[]): void {
    let probe: Promise<(WorkerReport | undefined)[]> | undefined;
    const workers = () => (probe ??= sources.workers().finally(() => (probe = undefined)));
    const reactor = (report: WorkerReport) => report.handler as Partial<ReactorStats>;
    const perWorker = (name: string, help: string, read: (report: WorkerReport) => number | undefined) =>
      new Gauge({
        name, help, labelNames: ['shard'], registers,
        async collect() {
          const reports = await workers();
          this.reset();
          reports.forEach((report, shard) => {
            const value = report && read(report);
            if (value !== undefined) this.set({ shard: String(shard) }, value);
          });
        },
      });
    perWorker('lanepool_worker_heap_used_bytes', 'The worker\'s own V8 heap in use (not the main thread\'s)', (r) => r.heap.usedBytes);
    perWorker('lanepool_worker_heap_total_bytes', 'The worker\'s own V8 heap, allocated', (r) => r.heap.totalBytes);
    perWorker('lanepool_worker_heap_limit_bytes', 'The worker\'s V8 heap limit', (r) => r.heap.limitBytes);
    perWorker('lanepool_worker_sessions', 'Live provider sessions in the worker', (r) => reactor(r).sessions);
    perWorker('lanepool_worker_sessions_starting', 'Provider session starts in progress in the worker, abandoned ones included', (r) => reactor(r).sessionsStarting);
    perWorker('lanepool_worker_threads', 'Threads the worker holds session state for', (r) => reactor(r).threads);
    perWorker('lanepool_worker_resume_cursors', 'Evicted threads the worker keeps only a resume cursor for', (r) => reactor(r).resumeCursors);
    // Real counters, advanced by the growth of the worker's own counts. A replaced worker counts from
    // 0 again, so a count below the last one seen is all new.
    const perWorkerCounter = (name: string, help: string, labelNames: string[], read: (report: WorkerReport) => [Record<string, string>, number | undefined][]) => {
      const seen = new Map<string, number>();
      return new Counter({
        name, help, labelNames: ['shard', ...labelNames], registers,
        async collect() {
          (await workers()).forEach((report, shard) => {
            for (const [labels, count] of report ? read(report) : []) {
              if (count === undefined) continue;
              const all = { shard: String(shard), ...labels };
              const id = JSON.stringify(all);
              const last = seen.get(id) ?? 0;
              this.inc(all, count >= last ? count - last : count);
              seen.set(id, count);
            }
          });
        },
      });
    };
    perWorkerCounter('lanepool_worker_sessions_evicted_total', 'Provider sessions evicted and stopped, by reason (idle, cap)', ['reason'],
      (r) => [[{ reason: 'idle' }, reactor(r).sessionsEvictedIdle], [{ reason: 'cap' }, reactor(r).sessionsEvictedCap]]);
    perWorkerCounter('lanepool_worker_session_stop_failures_total', 'Background stops of evicted or orphaned sessions that failed or timed out', [],
      (r) => [[{}, reactor(r).sessionStopFailures]]);
  }

  /** An SSE subscriber fell too far behind and was disconnected. */
  sseDropped(): void {
    this.#sseDropped.inc();
  }

  observeIntent(type: IntentType, outcome: IntentStatus, seconds: number): void {
    this.#intents.inc({ type, outcome });
    this.#latency.observe({ type, outcome }, seconds);
  }
}
