import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { DataCloneError, LanePool } from '../src/main/index.ts';
import { MAX_WIRE_TEXT, fromWire, toWire } from '../src/shared/errors.ts';
import { degrade } from '../src/worker/degrade.ts';
// @ts-expect-error: a plain .mjs fixture, without types
import { RETURNED_KINDS, THROWN_KINDS, hostileThrown } from './fixtures/hostile.mjs';
import { Gate, outcome, settlesWithin } from './helpers.ts';

const HOSTILE = fileURLToPath(new URL('./fixtures/hostile.mjs', import.meta.url));
const thrownKinds = THROWN_KINDS as string[];
const returnedKinds = RETURNED_KINDS as string[];

/** What each hostile result must reject with; a value that cannot cross is a DataCloneError. */
const RETURN_ERRORS: Record<string, new (...args: never[]) => Error> = {
  'object-with-method': DataCloneError,
  'throwing-getter': DataCloneError,
  'getter-throwing-a-revoked-proxy': DataCloneError,
  'symbol': DataCloneError,
  'proxy': DataCloneError,
  // Resolving the handler's promise with these reads `then`, which throws: a handler error.
  'revoked-proxy': TypeError,
  'thenable-with-throwing-then': Error,
};

describe('toWire', () => {
  for (const kind of thrownKinds) {
    it(`turns a thrown ${kind} into cloneable strings, without throwing`, () => {
      const wire = toWire(hostileThrown(kind));
      expect(typeof wire.name).toBe('string');
      expect(typeof wire.message).toBe('string');
      expect(wire.message.length).toBeLessThan(MAX_WIRE_TEXT + 100);
      expect(fromWire(structuredClone(wire))).toBeInstanceOf(Error);
    });
  }
});

describe('degrade, for a worker message that structured clone refused', () => {
  it('steps down to ever simpler errors for the same task, then gives up', () => {
    const refusal = new Error('could not be cloned');
    const ok = degrade({ t: 'ok', id: 7, value: null }, refusal);
    expect(ok).toMatchObject({ t: 'err', id: 7, error: { own: true, code: 'ERR_DATA_CLONE', data: { what: 'result', detail: 'could not be cloned' } } });
    const plain = degrade(ok!, refusal);
    expect(plain).toEqual({ t: 'err', id: 7, error: { name: 'DataCloneError', message: ok!.error.message } });
    const generic = degrade(plain!, refusal);
    expect(generic).toMatchObject({ t: 'err', id: 7, error: { name: 'Error', message: expect.stringContaining('could not be sent') } });
    expect(degrade(generic!, refusal)).toBeUndefined();
    expect(degrade({ t: 'started', id: 7 }, refusal)).toBeUndefined();
  });
});

describe('a handler that throws or returns a hostile value', () => {
  // One shard: every hostile task shares its worker with the bystander.
  const pool = new LanePool({ handler: HOSTILE, shards: 1 });
  afterAll(() => pool.close({ force: true }));
  let slot = 0;

  /** Runs `payload` while a bystander task of another key is running on the same worker. */
  async function failsAlone(payload: unknown): Promise<Error & { code?: string }> {
    const gate = new Gate(2);
    const bystander = pool.run('bystander', { op: 'gate', gate: gate.buffer, slot: 0, value: 'done', startedGate: gate.buffer, startedSlot: 1 });
    await gate.reached(1);
    const result = await settlesWithin(outcome(pool.run(`hostile-${slot++}`, payload)), 'the hostile task');
    expect(result.ok).toBe(false);
    gate.open(0);
    expect(await settlesWithin(bystander, 'the bystander')).toBe('done');
    expect(pool.stats()).toMatchObject({ restarts: 0, lanes: 0, running: 0 });
    return result.ok ? new Error('resolved') : result.error;
  }

  for (const kind of thrownKinds) {
    it(`rejects only its own task when the handler throws ${kind}`, async () => {
      const error = await failsAlone({ op: 'hostile', throw: kind });
      expect(error).toBeInstanceOf(Error);
      expect(typeof error.message).toBe('string');
    });
  }

  for (const kind of returnedKinds) {
    it(`rejects only its own task when the handler returns ${kind}`, async () => {
      const error = await failsAlone({ op: 'hostile', return: kind });
      expect(error).toBeInstanceOf(RETURN_ERRORS[kind]!);
      if (RETURN_ERRORS[kind] === DataCloneError) expect(error).toMatchObject({ what: 'result', key: expect.stringMatching(/^hostile-/) });
    });
  }

  it('keeps what can be kept: a frozen, cyclic error still brings its message and fields', async () => {
    const error = await failsAlone({ op: 'hostile', throw: 'cyclic-error' }) as Error & { ring?: { error?: unknown } };
    expect(error.message).toBe('cyclic');
    expect(error.ring?.error).toBeDefined();
    expect((await failsAlone({ op: 'hostile', throw: 'message-object-with-method' })).message).toBe('[object Object]');
    expect((await failsAlone({ op: 'hostile', throw: 'symbol-name' })).name).toBe('Symbol(boom)');
  });

  it('rejects a payload whose getter throws a revoked Proxy with DataCloneError, on the main thread', async () => {
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    const payload = { get field(): never { throw proxy; } };
    const result = await settlesWithin(outcome(pool.run('payload', payload)), 'the task');
    expect(result.ok || result.error).toMatchObject({ code: 'ERR_DATA_CLONE', what: 'payload' });
  });

  it('then drains and closes, with no restart', async () => {
    await settlesWithin(pool.drain(), 'drain()');
    expect(pool.stats()).toMatchObject({ restarts: 0, completed: thrownKinds.length + returnedKinds.length + 3, lanes: 0 });
    await settlesWithin(pool.close(), 'close()');
  });
});
