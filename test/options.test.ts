import { describe, expect, it } from 'vitest';
import { LanePool, type LanePoolOptions } from '../src/main/index.ts';
import { CONTROL, controlPool } from './helpers.ts';

describe('pool options', () => {
  const bad: [string, Partial<LanePoolOptions> & Record<string, unknown>, RegExp, typeof TypeError][] = [
    ['a missing handler', { handler: undefined }, /options\.handler must be a module path/, TypeError],
    ['a handler file that does not exist', { handler: '/nonexistent/handler.mjs' }, /options\.handler names no file/, TypeError],
    ['a handler with another extension', { handler: '/etc/hostname.txt' }, /options\.handler must end in one of/, TypeError],
    ['a non-file URL handler', { handler: new URL('https://example.invalid/h.mjs') }, /file: URL/, TypeError],
    ['zero shards', { shards: 0 }, /options\.shards must be between 1 and 1024, got 0/, RangeError],
    ['fractional shards', { shards: 1.5 }, /options\.shards must be an integer, got 1\.5/, TypeError],
    ['a negative taskTimeoutMs', { taskTimeoutMs: -1 }, /options\.taskTimeoutMs must be between/, RangeError],
    ['a string maxQueuedPerKey', { maxQueuedPerKey: '10' as unknown as number }, /options\.maxQueuedPerKey must be an integer, got "10"/, TypeError],
    ['a zero maxQueued', { maxQueued: 0 }, /options\.maxQueued must be between 1/, RangeError],
    ['an unknown option', { taskTimeout: 5 }, /unknown field "taskTimeout"/, TypeError],
    ['a stallTimeoutMs below the floor', { stallTimeoutMs: 5 }, /options\.stallTimeoutMs must be 0 \(off\) or at least 100, got 5/, RangeError],
    ['a negative loadTimeoutMs', { loadTimeoutMs: -1 }, /options\.loadTimeoutMs must be between 0/, RangeError],
    ['a fractional loadTimeoutMs', { loadTimeoutMs: 0.5 }, /options\.loadTimeoutMs must be an integer, got 0\.5/, TypeError],
    ['a bad resource limit', { resourceLimits: { maxOldGenerationSizeMb: -5 } }, /options\.resourceLimits\.maxOldGenerationSizeMb/, RangeError],
  ];
  for (const [what, patch, message, Class] of bad) {
    it(`refuses ${what}, naming the option`, () => {
      const build = () => new LanePool({ handler: CONTROL, ...patch } as LanePoolOptions);
      expect(build).toThrow(Class);
      expect(build).toThrow(message);
    });
  }

  it('refuses a non-object', () => {
    expect(() => new LanePool(null as unknown as LanePoolOptions)).toThrow(TypeError);
  });
});

describe('run() arguments', () => {
  const pool = controlPool({ shards: 1 });

  const badKeys: [string, unknown, RegExp, typeof TypeError][] = [
    ['an empty key', '', /key must be a non-empty string/, TypeError],
    ['a number key', 42, /key must be a string, got 42/, TypeError],
    ['a key over 1024 UTF-8 bytes', 'é'.repeat(513), /key must be at most 1024 UTF-8 bytes, got 1026/, RangeError],
  ];
  for (const [what, key, message, Class] of badKeys) {
    it(`rejects ${what} with a ${Class.name} naming the key`, async () => {
      await expect(pool.run(key as string, {})).rejects.toThrow(Class);
      await expect(pool.run(key as string, {})).rejects.toThrow(message);
      expect(() => pool.shardOf(key as string)).toThrow(Class);
    });
  }

  it('accepts a key of exactly 1024 UTF-8 bytes', async () => {
    expect(await pool.run('é'.repeat(512), { op: 'add', n: 1 })).toBe(2);
  });

  const badOptions: [string, Record<string, unknown>, RegExp][] = [
    ['a negative timeoutMs', { timeoutMs: -5 }, /options\.timeoutMs must be between 0/],
    ['an unknown priority', { priority: 'urgent' }, /options\.priority must be 'normal' or 'control'/],
    ['a signal that is not an AbortSignal', { signal: {} }, /options\.signal must be an AbortSignal/],
    ['an unknown run option', { retries: 3 }, /unknown field "retries"/],
  ];
  for (const [what, options, message] of badOptions) {
    it(`rejects ${what}`, async () => {
      await expect(pool.run('k', {}, options)).rejects.toThrow(message);
    });
  }

  it('leaves nothing behind after refusing bad arguments', async () => {
    await pool.drain();
    expect(pool.stats()).toMatchObject({ lanes: 0, queued: 0, running: 0 });
    await pool.close();
  });
});
