/**
 * What a payload costs while it waits in the pool, estimated without serializing it. The byte bounds
 * (`maxQueuedBytes`, `maxQueuedBytesPerKey`) count this for a `run()` that does not state its own
 * `bytes` (a server that knows the request body's length passes that and pays nothing).
 *
 * The estimate is a bounded walk, not a measurement, shaped after what V8 keeps on the heap:
 * - a string counts its length plus a header (one byte per UTF-16 unit: V8 keeps Latin-1 strings
 *   that way; a string with wider characters takes twice that, which callers who know better state);
 * - an ArrayBuffer, typed array or DataView counts its byteLength; a SharedArrayBuffer is shared,
 *   not copied, so it counts as a reference;
 * - a number, boolean, null, undefined or bigint counts one 8-byte slot;
 * - arrays, plain objects, Maps and Sets count a header, a slot per entry, and walk their entries.
 *   An object with many keys costs far more per key than its JSON suggests (V8 keeps it as a hash
 *   table: about 60 bytes a key, measured), so past `DICTIONARY_KEYS` a key counts `DICTIONARY_ENTRY`.
 * It visits at most `NODE_BUDGET` values and `MAX_DEPTH` levels. When the budget runs out inside a
 * container, the container's unvisited entries are counted at the mean size of its visited ones, so
 * a million-element array costs a few thousand steps and is still counted at about its size.
 */

/** Values visited per estimate, at most. */
const NODE_BUDGET = 4096;
/** Deeper values count as one slot each: beyond this the walk stops descending. */
const MAX_DEPTH = 64;
/** A number, boolean, null, a reference, or the overhead of one entry. */
const SLOT = 8;
/** An object's or a string's header. */
const HEADER = 24;
/** Beyond this many keys, V8 stores an object's properties in a hash table. */
const DICTIONARY_KEYS = 128;
/** What one hash-table property costs beyond its key's and value's own bytes. */
const DICTIONARY_ENTRY = 48;

interface Walk {
  budget: number;
}

/**
 * An estimate of `value`'s size in bytes, as the pool's byte bounds count it (see the module comment).
 * @example estimateBytes({ input: 'x'.repeat(1000) }) // 1061
 */
export function estimateBytes(value: unknown): number {
  return Math.ceil(walk(value, { budget: NODE_BUDGET }, 0));
}

function walk(value: unknown, state: Walk, depth: number): number {
  state.budget--;
  if (typeof value === 'string') return HEADER + value.length;
  if (typeof value !== 'object' || value === null) return SLOT;
  if (ArrayBuffer.isView(value)) return HEADER + value.byteLength;
  if (value instanceof ArrayBuffer) return HEADER + value.byteLength;
  if (value instanceof SharedArrayBuffer) return SLOT;
  if (depth >= MAX_DEPTH) return SLOT;
  const inner = depth + 1;
  let visited = 0;
  let sum = 0;
  let count: number;
  if (Array.isArray(value)) {
    count = value.length;
    for (; visited < count && state.budget > 0; visited++) sum += SLOT + walk(value[visited], state, inner);
  } else if (value instanceof Map || value instanceof Set) {
    count = value.size;
    for (const [k, v] of value.entries()) {
      if (state.budget <= 0) break;
      sum += SLOT + (value instanceof Map ? walk(k, state, inner) : 0) + walk(v, state, inner);
      visited++;
    }
  } else {
    const keys = Object.keys(value);
    const record = value as Record<string, unknown>;
    count = keys.length;
    const entry = count > DICTIONARY_KEYS ? DICTIONARY_ENTRY : SLOT;
    for (; visited < count && state.budget > 0; visited++) {
      const key = keys[visited]!;
      sum += entry + key.length + walk(record[key], state, inner);
    }
  }
  // Budget spent: count the entries not visited at the mean of those that were.
  const rest = count - visited;
  if (rest > 0) sum += rest * (visited > 0 ? sum / visited : SLOT);
  return HEADER + sum;
}
