/**
 * `npm run jetstream` end to end, in a tiny configuration: a real nats-server and `lanepool serve`
 * children. Figures are not checked (timing belongs to the script), only that each part ran and
 * the counts it reports that are not timing: three record writes and one stream message per intent.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

describe('npm run jetstream, in a tiny configuration', () => {
  it('measures memory mode against one instance, per-intent costs and the record write, and writes its JSON', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lanepool-figures-'));
    try {
      const json = join(dir, 'jetstream.json');
      const run = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/jetstream.ts', '--only', 'throughput,writes', '--instances', '1',
        '--intents', '300', '--threads', '30', '--concurrency', '8', '--writes', '500', '--json', json], { encoding: 'utf8', timeout: 120_000 });
      expect(run.status, run.stderr).toBe(0);
      expect(run.stdout).toMatch(/JetStream, 1 instance\(s\): \d+ intents\/s, [\d.]+x memory mode/);
      const report = JSON.parse(readFileSync(json, 'utf8'));
      const [memory, jetstream] = report.throughput;
      expect(memory).toMatchObject({ mode: 'memory', instances: 1, vsMemory: 1 });
      expect(jetstream).toMatchObject({ mode: 'jetstream', instances: 1 });
      expect(jetstream.vsMemory).toBeGreaterThan(0);
      expect(jetstream.messages).toMatchObject({ KV_LANEPOOL_intents: 3, LANEPOOL: 1 });
      expect(jetstream.messages.LANEPOOL_events).toBeGreaterThan(0);
      if (process.platform === 'linux') {
        expect(jetstream.instanceCpuUs).toBeGreaterThan(0);
        expect(jetstream.mainThreadCpuUs).toBeGreaterThan(0);
        expect(jetstream.natsCpuUs).toBeGreaterThan(0);
      }
      expect(report.writes.clientKvUs).toHaveLength(3);
      expect(report.writes.pipelinedPerSecond.every((n: number) => n > 0)).toBe(true);
      expect(report.takeover).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 150_000);
});
