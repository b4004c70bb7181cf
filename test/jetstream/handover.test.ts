/**
 * A graceful handover under load: instance b joins while a runs every thread's intents, so half the
 * partitions move mid-stream. Nothing may be lost, run twice or reordered, and since the old owner
 * lets running intents finish before it lets go, nothing needs a second attempt.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Service } from '../../src/main/service/server.ts';
import { until } from '../helpers.ts';
import { http, submit } from '../service/helpers.ts';
import { freshStream, ownedBy, ServiceSet, startNatsServer, type NatsServer } from './helpers.ts';

const PROVIDER = fileURLToPath(new URL('../fixtures/run-log-provider.mjs', import.meta.url));
const THREADS = 40;
/** At least this many intents per thread; more while b is joining. */
const PER_THREAD = 8;

describe('JetStream mode: an instance joining under load', () => {
  let nats: NatsServer;
  let dir: string;
  const services = new ServiceSet(() => nats);

  beforeAll(async () => {
    nats = await startNatsServer();
    dir = mkdtempSync(join(tmpdir(), 'lanepool-handover-'));
    // Read by the provider in every worker of both services (workers inherit the environment).
    process.env.LANEPOOL_RUN_LOG = join(dir, 'runs.jsonl');
    process.env.LANEPOOL_TURN_MS = '20';
  });
  afterAll(async () => {
    await services.shutdownAll();
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
    delete process.env.LANEPOOL_RUN_LOG;
    delete process.env.LANEPOOL_TURN_MS;
  });

  it('hands partitions over mid-stream without losing, repeating or reordering an intent', async () => {
    const stream = freshStream();
    const options = { handler: PROVIDER, shards: 1 };
    const a = await services.start(stream, 'a', options);
    const ids: string[][] = Array.from({ length: THREADS }, () => []);
    let b: Promise<Service> | undefined;
    let joined = false;
    // Every thread keeps submitting until b has taken its half, so the handover happens mid-stream.
    await Promise.all(ids.map(async (list, t) => {
      for (let k = 0; k < PER_THREAD || !joined; k++) {
        const reply = await submit(a, `thread-${t}`, { type: 'thread.turn.start', payload: { input: `${t}#${k}` }, intentId: `h-${t}-${k}` });
        expect(reply.status).toBe(202);
        list.push(reply.body.intentId);
        // Join once a third of the load is in.
        if (t === 0 && k === 2) {
          b = services.start(stream, 'b', options);
          void b.then(async (service) => {
            await until(async () => (await ownedBy(service)).length === 8, 'b to take its half');
            joined = true;
          });
        }
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    }));
    await b!;

    const all = ids.flat();
    const records = new Map<string, { status: string; attempt: number; instance: string }>();
    await until(async () => {
      for (const id of all) if (records.get(id)?.status !== 'completed') records.set(id, (await http(a, 'GET', `/v1/intents/${id}`)).body);
      return all.every((id) => records.get(id)?.status === 'completed');
    }, 'every intent to complete', 60_000);
    expect(new Set(all.map((id) => records.get(id)!.instance))).toEqual(new Set(['a', 'b']));
    expect(all.filter((id) => records.get(id)!.attempt !== 1)).toEqual([]);

    const lines = readFileSync(process.env.LANEPOOL_RUN_LOG!, 'utf8').trim().split('\n').map((text) => JSON.parse(text) as { ev: string; intentId: string });
    const begins = lines.filter((line) => line.ev === 'begin');
    // Exactly one run each.
    expect(begins.map((line) => line.intentId).sort()).toEqual([...all].sort());
    // In order per thread: intent k begins only after intent k-1 ended.
    const position = (ev: string, id: string) => lines.findIndex((line) => line.ev === ev && line.intentId === id);
    for (const list of ids) {
      for (let k = 1; k < list.length; k++) expect(position('begin', list[k]!), list[k]).toBeGreaterThan(position('end', list[k - 1]!));
    }
  }, 120_000);
});
