/**
 * A copy of plain data equal to what `structuredClone` makes of it, at a fraction of its cost: Node 20's
 * `structuredClone` serializes and deserializes through a message, about 1.7 µs for a three-field
 * event, while a walk of the same object takes a tenth of that. A worker snapshots every event a
 * handler emits (events.ts), so the http benchmark's two events per intent spent a tenth of each
 * worker's time there.
 *
 * Plain data, the only input it copies, is what structured clone turns into the same thing:
 *   - strings, numbers, booleans, bigints, null and undefined, as they are;
 *   - objects whose prototype is `Object.prototype` and that are not proxies, by their own enumerable
 *     string keys in `Object.keys` order (the order structured clone writes them), each read once,
 *     so a getter runs as it would in the clone (one that deletes a key not yet read hands the
 *     value to structuredClone, which skips such a key).
 * Anything else (an array, a class instance, a Date, a Map, a typed array, a symbol, a function, a
 * proxy, a `__proto__` key, an object met twice, which structured clone would keep shared or
 * circular, or nesting deeper than `MAX_DEPTH`) makes it return `NOT_PLAIN`, and the caller
 * falls back to `structuredClone` for the whole value, errors included. A getter may then have run
 * twice; the estimate before the copy (payload-size.ts) already reads every value once more anyway.
 */
import { types } from 'node:util';

export const NOT_PLAIN: unique symbol = Symbol('not plain');

/** Deeper plain data is left to structuredClone. */
const MAX_DEPTH = 16;

/** The copy, or NOT_PLAIN if `value` is not plain data (see the module comment). */
export function plainCopy(value: unknown): unknown {
  return copy(value, [], 0);
}

function copy(value: unknown, seen: object[], depth: number): unknown {
  const type = typeof value;
  if (type !== 'object' && type !== 'function' && type !== 'symbol') return value;
  if (value === null) return null;
  if (type !== 'object' || depth >= MAX_DEPTH) return NOT_PLAIN;
  const object = value as Record<string, unknown>;
  // A proxy first: reading its prototype would run its trap.
  if (types.isProxy(object) || Object.getPrototypeOf(object) !== Object.prototype || seen.includes(object)) return NOT_PLAIN;
  seen.push(object);
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(object)) {
    // An assignment to `__proto__` would set the copy's prototype instead of defining the key.
    if (key === '__proto__') return NOT_PLAIN;
    // Deleted by a getter read before it: structured clone skips such a key; leave that case to it.
    if (!Object.hasOwn(object, key)) return NOT_PLAIN;
    const inner = copy(object[key], seen, depth + 1);
    if (inner === NOT_PLAIN) return NOT_PLAIN;
    out[key] = inner;
  }
  return out;
}
