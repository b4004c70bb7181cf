import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { settlesWithin } from '../helpers.ts';

const BIN = fileURLToPath(new URL('../../src/main/service/bin.mjs', import.meta.url));
const SPINNING = fileURLToPath(new URL('../fixtures/spinning-provider.mjs', import.meta.url));

describe('lanepool serve, when a worker is replaced', () => {
  it('logs it at warn with the shard, the reason and the replay count', async () => {
    const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--shards', '1', '--stall-timeout-ms', '300', '--grace-ms', '500', '--handler', SPINNING], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    try {
      const log: Record<string, unknown>[] = [];
      let onLine = (): void => {};
      createInterface({ input: child.stdout! }).on('line', (line) => {
        log.push(JSON.parse(line) as Record<string, unknown>);
        onLine();
      });
      // Bounded, so that the finally below always gets to stop the child.
      const logged = (msg: string): Promise<Record<string, unknown>> => settlesWithin(new Promise((resolve, reject) => {
        void exited.then((code) => reject(new Error(`exited early with ${code}`)));
        onLine = () => {
          const entry = log.find((e) => e.msg === msg);
          if (entry) resolve(entry);
        };
        onLine();
      }), `the log line "${msg}"`);
      const { url } = (await logged('lanepool service listening')) as { url: string };
      const res = await request(`${url}/v1/threads/t/intents`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ type: 'thread.turn.start', payload: { input: 'spin' } }),
      });
      expect(res.statusCode).toBe(202);
      await res.body.dump();
      const entry = await logged('shard worker replaced');
      expect(entry).toMatchObject({ level: 40, shard: 0, reason: 'stall', detail: 'no heartbeat for 300 ms', replayed: expect.any(Number) });
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
  });
});
