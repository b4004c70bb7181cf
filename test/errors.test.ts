import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as lanepool from '../src/main/index.ts';
import { fromWire, toWire } from '../src/shared/errors.ts';

const { ERROR_CODES, LanePoolError } = lanepool;

function errorClasses(): unknown[] {
  return Object.values(lanepool).filter(
    (value: unknown) => typeof value === 'function' && value.prototype instanceof LanePoolError,
  );
}

describe('error codes', () => {
  it('are unique, one per exported error class', () => {
    expect(new Set(ERROR_CODES).size).toBe(ERROR_CODES.length);
    expect(errorClasses().length).toBe(ERROR_CODES.length);
  });

  it('match the README errors table exactly', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const section = readme.split('## Errors')[1]?.split('\n## ')[0] ?? '';
    const documented = [...section.matchAll(/^\| `(ERR_[A-Z_]+)` \|/gm)].map((m) => m[1]);
    expect([...documented].sort()).toEqual([...ERROR_CODES].sort());
  });

  it('survive the trip across the thread boundary as their own class', () => {
    const samples = [
      new lanepool.LaneTimeoutError({ key: 'k', timeoutMs: 5 }),
      new lanepool.LaneCancelledError({ key: 'k', reason: 'stop' }),
      new lanepool.QueueFullError({ key: 'k', limit: 'maxQueued', max: 3 }),
      new lanepool.PoolClosedError(),
      new lanepool.DrainTimeoutError({ keys: ['a', 'b'], timeoutMs: 9 }),
      new lanepool.ShardRestartedError({ shard: 1, key: 'k', reason: 'stall', detail: 'no heartbeat' }),
      new lanepool.HandlerLoadError({ handler: 'file:///h.mjs', detail: 'missing' }),
      new lanepool.DataCloneError({ key: 'k', what: 'result', detail: 'function' }),
      new lanepool.DataCloneError({ key: 'k', what: 'event', detail: 'function' }),
      new lanepool.EventTooLargeError({ key: 'k', bytes: 2048, max: 1024 }),
      new lanepool.NoSessionError({ key: 'k', intent: 'thread.turn.interrupt' }),
      new lanepool.ProviderError({ operation: 'start', detail: 'simulated failure' }),
      new lanepool.ProviderExitedError({ operation: 'turn', pid: 42, exitCode: 1, exitSignal: null, stderr: 'boom' }),
      new lanepool.ConfigError({ detail: 'invalid --port' }),
      new lanepool.JetStreamError({ operation: 'publish', detail: 'no responders' }),
      new lanepool.InvalidIntentError({ detail: 'threadId is empty' }),
    ];
    expect(new Set(samples.map((e) => e.code))).toEqual(new Set(ERROR_CODES));
    for (const original of samples) {
      const copy = fromWire(structuredClone(toWire(original)));
      expect(copy).toBeInstanceOf(original.constructor);
      expect(copy.message).toBe(original.message);
      expect(copy).toMatchObject({ ...original });
    }
  });
});
