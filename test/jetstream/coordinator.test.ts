/**
 * The coordinator's lease timing, against a lease store and a JetStream whose latency the test
 * controls: slow NATS is hard to stage with a real server, and these are the cases where the
 * timing logic itself is what can go wrong. (Everything else about ownership runs against a real
 * nats-server in service.test.ts, handover.test.ts, sigkill.test.ts and robustness.test.ts.)
 */
import type { JetStreamClient, JetStreamManager } from 'nats';
import { afterEach, describe, expect, it } from 'vitest';
import { Coordinator } from '../../src/main/jetstream/coordinator.ts';
import type { Leases } from '../../src/main/jetstream/leases.ts';
import type { PartitionDeps } from '../../src/main/jetstream/partition.ts';
import { topology } from '../../src/main/jetstream/topology.ts';
import type { Dispatcher } from '../../src/main/service/dispatcher.ts';
import { until } from '../helpers.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const never = () => new Promise<never>(() => {});

/** Leases held in a map, each call taking `latencyMs` (or never answering when `hang` is set). */
function fakeLeases(timing: { renewMs: number; hangRenewals?: boolean }) {
  const held = new Map<number, number>();
  let revision = 0;
  const calls = { renew: 0 };
  const leases = {
    instance: 'me',
    async announce() {},
    async withdraw() {},
    async members() {
      return ['me'];
    },
    async acquire(p: number) {
      if (held.has(p)) return undefined;
      held.set(p, ++revision);
      return revision;
    },
    async renew(p: number, rev: number) {
      calls.renew++;
      if (timing.hangRenewals) return never();
      await sleep(timing.renewMs);
      if (held.get(p) !== rev) return undefined;
      held.set(p, ++revision);
      return revision;
    },
    async release(p: number, rev: number) {
      if (held.get(p) === rev) held.delete(p);
    },
  };
  return { leases: leases as unknown as Leases, held, calls };
}

/** A JetStream whose consumer lookup takes `getMs`; records whether consuming began and ended. */
function fakeJetStream(getMs: number) {
  const consumers = { consumed: 0, stopped: 0 };
  const jsm = {
    consumers: { list: async function* () {}, delete: async () => true, add: async () => ({}) },
    streams: { info: async () => ({ state: { last_seq: 0 } }) },
  };
  const js = {
    consumers: {
      get: async () => {
        await sleep(getMs);
        return {
          consume: async () => {
            consumers.consumed++;
            let stop!: () => void;
            const closed = new Promise<void>((resolve) => {
              stop = resolve;
            });
            return {
              stop: () => {
                consumers.stopped++;
                stop();
              },
              closed: () => closed,
              status: async () => (async function* () {})(),
            };
          },
        };
      },
    },
  };
  return { js: js as unknown as JetStreamClient, jsm: jsm as unknown as JetStreamManager, consumers };
}

const quiet = { info() {}, warn() {}, error() {} };

describe('Coordinator lease timing', () => {
  let coordinator: Coordinator | undefined;
  afterEach(async () => {
    await coordinator?.stop(0);
    coordinator = undefined;
  });

  function start(leases: Leases, js: JetStreamClient, jsm: JetStreamManager, leaseTtlMs: number): Coordinator {
    const deps: Omit<PartitionDeps, 'onBroken' | 'fence'> = {
      js, jsm, topo: topology('T', 2), settings: { ackWaitMs: 30_000, maxAckPending: 10 },
      dispatcher: {} as Dispatcher, store: {} as PartitionDeps['store'], instance: 'me', shardOf: () => 0,
      log: quiet, counters: { skipped: 0, rerun: 0, poison: 0, staleRefused: 0 }, eventSink: () => ({ append() {} }),
    };
    return new Coordinator({ leases, partitions: 2, fixed: undefined, leaseTtlMs, handoffTimeoutMs: 0, deps, log: quiet });
  }

  it('keeps its leases when every renewal succeeds, even slower than a tick', async () => {
    // TTL 4 s: ticks of 1 s, fence at 3 s. Each renewal takes 1.1 s, so renewals go out back to back.
    const { leases, calls } = fakeLeases({ renewMs: 1100 });
    const { js, jsm } = fakeJetStream(0);
    coordinator = start(leases, js, jsm, 4000);
    await coordinator.ready();
    expect(coordinator.owned()).toEqual([0, 1]);
    await sleep(7000);
    expect(calls.renew).toBeGreaterThanOrEqual(8);
    expect(coordinator.lost).toBe(0);
    expect(coordinator.owned()).toEqual([0, 1]);
  }, 20_000);

  it('gives a lease up three quarters of a TTL after its last renewal was sent, though the renewal never answers', async () => {
    const { leases, held } = fakeLeases({ renewMs: 0, hangRenewals: true });
    const { js, jsm, consumers } = fakeJetStream(0);
    coordinator = start(leases, js, jsm, 2000);
    await coordinator.ready();
    expect(coordinator.owned()).toEqual([0, 1]);
    await until(() => coordinator!.lost === 2, 'both leases to be fenced', 10_000);
    expect(coordinator.owned()).toEqual([]);
    expect(consumers.stopped).toBe(consumers.consumed);
    // Fenced, not released: the lease is left to expire on the server, for nobody to overlap it.
    expect([...held.keys()].sort()).toEqual([0, 1]);
  }, 20_000);

  it('does not start consuming a partition whose lease was fenced while its consumer was being set up', async () => {
    // The fence fires at 1.5 s; the consumer lookup answers at 3 s.
    const { leases } = fakeLeases({ renewMs: 0, hangRenewals: true });
    const { js, jsm, consumers } = fakeJetStream(3000);
    coordinator = start(leases, js, jsm, 2000);
    await coordinator.ready();
    expect(coordinator.lost).toBe(2);
    expect(coordinator.takeovers).toBe(0);
    expect(coordinator.owned()).toEqual([]);
    expect(consumers.consumed).toBe(0);
  }, 20_000);
});
