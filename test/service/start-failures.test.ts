import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runServe } from './helpers.ts';

const HANGS = fileURLToPath(new URL('../fixtures/hangs-at-top-level.mjs', import.meta.url));

describe('lanepool serve, refusing to start', () => {
  it('refuses a --stall-timeout-ms below the floor with exit code 2, naming the flag', async () => {
    const { code, stderr } = await runServe(['--port', '0', '--stall-timeout-ms', '5']);
    expect(code).toBe(2);
    expect(stderr).toContain('invalid --stall-timeout-ms (LANEPOOL_STALL_TIMEOUT_MS): must be 0 (off) or at least 100, got 5');
  });

  it('exits 2 with a message naming the provider and the flag, instead of hanging, when the provider never finishes loading', async () => {
    const { code, stderr } = await runServe(['--port', '0', '--shards', '1', '--handler', HANGS], { LANEPOOL_HANDLER_LOAD_TIMEOUT_MS: '500' });
    expect(code).toBe(2);
    expect(stderr).toMatch(/invalid --handler \(LANEPOOL_HANDLER\): cannot load .*hangs-at-top-level\.mjs: it did not load within 500 ms \(--handler-load-timeout-ms\)/);
  });
});
