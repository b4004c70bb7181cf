/**
 * The JetStream mode's end-to-end guarantees, with real processes: three service instances on one
 * nats-server, a few hundred threads (some with hung session starts), and one instance SIGKILLed in
 * the middle of the load. The provider fixture logs every turn's begin and end to one file; the test
 * watches every intent record through the KV bucket.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, type NatsConnection } from 'nats';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startInstance, type Instance } from '../../scripts/jetstream/instances.ts';
import { startNatsServer, type NatsServer } from '../../scripts/jetstream/nats-server.ts';
import type { StoredIntent } from '../../src/main/jetstream/intent-store.ts';
import { until } from '../helpers.ts';

const PROVIDER = fileURLToPath(new URL('../fixtures/run-log-provider.mjs', import.meta.url));
const THREADS = 240;
const HUNG = 12;
const PER_THREAD = 5;
const KILL_AFTER = Math.floor(THREADS * PER_THREAD * 0.4);

interface LogLine {
  ev: 'begin' | 'end';
  intentId: string;
  attempt: number;
  input: string;
  pid: number;
  at: number;
}

describe('JetStream mode: SIGKILL in the middle of a load', () => {
  let nats: NatsServer;
  let nc: NatsConnection;
  let dir: string;
  const instances: Instance[] = [];

  beforeAll(async () => {
    nats = await startNatsServer();
    dir = mkdtempSync(join(tmpdir(), 'lanepool-sigkill-'));
  });
  afterAll(async () => {
    await Promise.all(instances.map((instance) => instance.kill()));
    await nc?.close();
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('loses no accepted intent, reruns none that completed, keeps per-thread order, and lets healthy threads through', async () => {
    const runLog = join(dir, 'runs.jsonl');
    // A partition moving between survivors waits up to --handoff-timeout-ms for a hung start.
    // Turns of 300 ms keep a few dozen of them running on the victim when it dies.
    const flags = ['--nats', nats.url, '--shards', '1', '--lease-ttl-ms', '2000', '--handoff-timeout-ms', '2000', '--task-timeout-ms', '0', '--handler', PROVIDER];
    instances.push(...await Promise.all(['a', 'b', 'c'].map((id) => startInstance(id, flags, { LANEPOOL_RUN_LOG: runLog, LANEPOOL_TURN_MS: '300' }))));
    const owned = async (instance: Instance): Promise<number[]> => {
      const res = await request(`${instance.url}/readyz`);
      return ((await res.body.json()) as { jetstream: { partitions: number[] } }).jetstream.partitions;
    };
    // Wait for the even split, so the victim owns its share (5 or 6) when it dies.
    await until(async () => {
      const lists = await Promise.all(instances.map(owned));
      return lists.flat().length === 16 && lists.every((list) => list.length >= 5);
    }, 'the 16 partitions to be shared 5/5/6', 30_000);

    // Every record change, as it happens: the first time each intent was seen settled.
    nc = await connect({ servers: nats.url });
    const kv = await nc.jetstream().views.kv('LANEPOOL_intents', { bindOnly: true });
    const latest = new Map<string, StoredIntent>();
    const settledAt = new Map<string, number>();
    /** Which instance recorded which attempt as running, per intent. */
    const runningOn = new Map<string, { attempt: number; instance: string }[]>();
    const watch = await kv.watch();
    void (async () => {
      for await (const entry of watch) {
        if (entry.operation !== 'PUT') continue;
        const record = entry.json<StoredIntent>();
        latest.set(record.intentId, record);
        if (record.status === 'running') (runningOn.get(record.intentId) ?? runningOn.set(record.intentId, []).get(record.intentId)!).push({ attempt: record.attempt, instance: record.instance! });
        if (record.status === 'completed' && !settledAt.has(record.intentId)) settledAt.set(record.intentId, Date.now());
      }
    })();

    const victim = instances[2]!;
    const victimOwned = await owned(victim);
    const live = new Set(instances);
    let accepted = 0;
    let killedAt = 0;
    const threads = Array.from({ length: THREADS }, (_, i) => ({ id: `thread-${i}`, hung: i < HUNG, intents: [] as string[] }));

    /** POSTs until some live instance accepts it; a lost answer is retried with the same intentId. */
    async function submit(threadId: string, intentId: string, payload: object, attempt = 0): Promise<void> {
      const targets = [...live];
      const target = targets[(attempt + threadId.length) % targets.length]!;
      try {
        const res = await request(`${target.url}/v1/threads/${threadId}/intents`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ type: 'thread.turn.start', payload, intentId }),
        });
        await res.body.text();
        if (res.statusCode === 202 || res.statusCode === 200) return;
        if (res.statusCode !== 503) throw new Error(`unexpected ${res.statusCode}`);
      } catch (error) {
        if (attempt > 200 || (error instanceof Error && error.message.startsWith('unexpected'))) throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
      return submit(threadId, intentId, payload, attempt + 1);
    }

    const startedAt = Date.now();
    await Promise.all(threads.map(async (thread) => {
      for (let k = 0; k < PER_THREAD; k++) {
        const intentId = `${thread.id}-${k}`;
        const payload = { input: `${thread.id}#${k}`, ...(thread.hung && k === 0 ? { simulate: { startHangMs: 'forever' } } : {}) };
        await submit(thread.id, intentId, payload);
        thread.intents.push(intentId);
        if (++accepted === KILL_AFTER) {
          killedAt = Date.now();
          live.delete(victim);
          await victim.kill();
        }
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 40));
      }
    }));
    expect(killedAt).toBeGreaterThan(0);

    const loadedAt = Date.now();
    const healthy = threads.filter((thread) => !thread.hung).flatMap((thread) => thread.intents);
    await until(() => healthy.every((id) => latest.get(id)?.status === 'completed'), 'every healthy intent to complete', 90_000);

    const drainedAt = Date.now();
    // Healthy threads got through while every hung start still hangs, on whatever instance now owns it.
    for (const thread of threads.filter((t) => t.hung)) {
      expect(latest.get(thread.intents[0]!)?.status).toBe('running');
      for (const id of thread.intents.slice(1)) expect(latest.get(id)?.status).toBe('queued');
    }
    // Stop always works, and settles what was stuck behind the hung start.
    const survivor = [...live][0]!;
    for (const thread of threads.filter((t) => t.hung)) {
      const res = await request(`${survivor.url}/v1/threads/${thread.id}/intents?wait=true`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ type: 'thread.session.stop', payload: {} }),
      });
      expect(((await res.body.json()) as StoredIntent).status).toBe('completed');
    }
    const hungIntents = threads.filter((t) => t.hung).flatMap((t) => t.intents);
    await until(() => hungIntents.every((id) => latest.get(id)?.status === 'cancelled'), 'the hung threads\' intents to be cancelled by stop');
    watch.stop();

    // 0 lost: every accepted intent settled.
    const all = threads.flatMap((thread) => thread.intents);
    expect(all).toHaveLength(THREADS * PER_THREAD);
    expect(all.filter((id) => !['completed', 'cancelled'].includes(latest.get(id)?.status ?? 'missing'))).toEqual([]);

    const lines = readFileSync(runLog, 'utf8').trim().split('\n').map((text) => JSON.parse(text) as LogLine);
    const runs = new Map<string, LogLine[]>();
    for (const line of lines) (runs.get(line.intentId) ?? runs.set(line.intentId, []).get(line.intentId)!).push(line);

    // 0 completed intents run again: no run begins after its intent was seen completed, and no
    // intent finishes more than once outside the killed instance.
    const rerunAfterCompletion = lines.filter((line) => line.ev === 'begin' && (settledAt.get(line.intentId) ?? Infinity) < line.at);
    expect(rerunAfterCompletion).toEqual([]);
    for (const [id, list] of runs) {
      const endsOnSurvivors = list.filter((line) => line.ev === 'end' && line.pid !== victim.pid);
      expect(endsOnSurvivors.length, id).toBeLessThanOrEqual(1);
    }

    // Interrupted on the victim -> run again exactly once, on a survivor, with attempt 2.
    const cutShort = [...runs].filter(([, list]) => list.some((l) => l.pid === victim.pid && l.ev === 'begin') && !list.some((l) => l.pid === victim.pid && l.ev === 'end'));
    for (const [id, list] of cutShort) {
      const reruns = list.filter((l) => l.ev === 'begin' && l.pid !== victim.pid);
      expect(reruns.map((l) => l.attempt), id).toEqual([2]);
      expect(latest.get(id)).toMatchObject({ status: 'completed', attempt: 2 });
    }
    // Every rerun is of an intent whose previous attempt was recorded running on the victim. (Its
    // provider may not have been called yet: attempt counts recorded starts; see the README.)
    for (const line of lines.filter((l) => l.ev === 'begin' && l.attempt > 1)) {
      expect(runningOn.get(line.intentId), line.intentId).toContainEqual({ attempt: line.attempt - 1, instance: victim.id });
      expect(line.pid).not.toBe(victim.pid);
    }

    // Per-thread order: when intent k begins, the latest run of intent k-1 has already ended.
    const position = new Map(lines.map((line, index) => [line, index]));
    for (const thread of threads.filter((t) => !t.hung)) {
      for (let k = 1; k < PER_THREAD; k++) {
        const previous = runs.get(thread.intents[k - 1]!) ?? [];
        for (const begin of (runs.get(thread.intents[k]!) ?? []).filter((l) => l.ev === 'begin')) {
          const before = previous.filter((l) => position.get(l)! < position.get(begin)!);
          const lastBegin = before.filter((l) => l.ev === 'begin').at(-1);
          expect(lastBegin, `${thread.intents[k]} began before ${thread.intents[k - 1]} ever ran`).toBeDefined();
          const ended = before.some((l) => l.ev === 'end' && l.attempt === lastBegin!.attempt && l.pid === lastBegin!.pid && position.get(l)! > position.get(lastBegin!)!);
          expect(ended, `${thread.intents[k]} began while ${thread.intents[k - 1]} was still running`).toBe(true);
        }
      }
    }

    console.log(`sigkill: ${all.length} intents, victim owned ${victimOwned.length} partitions, ${cutShort.length} cut short and rerun, `
      + `${lines.filter((l) => l.ev === 'begin').length} turn runs (${lines.filter((l) => l.ev === 'begin' && l.pid === victim.pid).length} on the victim), killed ${killedAt - startedAt} ms into a ${loadedAt - startedAt} ms load, all healthy done ${drainedAt - loadedAt} ms after it`);
    // The kill did cut something short on partitions it owned, or the test proved nothing.
    expect(victimOwned.length).toBeGreaterThan(0);
    expect(cutShort.length).toBeGreaterThan(0);
  }, 240_000);
});
