/**
 * Key -> shard routing. Documented as a contract, because anything that must agree with the pool on
 * where a key lives (another process publishing to per-shard partitions, say) reimplements it:
 *
 *   1. h = FNV-1a, 32-bit, over the key's UTF-8 bytes
 *        (offset basis 0x811c9dc5, prime 0x01000193)
 *   2. shard = JumpConsistentHash(h as an unsigned 64-bit integer, shards)
 *        (Lamping & Veach, 2014: the 64-bit LCG key = key * 2862933555777941757 + 1)
 *
 * Jump hash moves only about 1/(n+1) of the keys when the shard count grows from n to n+1, and those
 * keys all move to the new shard. Both steps are pure, so `shardOf` never depends on pool state.
 */

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
const encoder = new TextEncoder();

/** FNV-1a (32-bit) of the string's UTF-8 bytes, as an unsigned integer. */
export function fnv1a32(text: string): number {
  let hash = FNV_OFFSET;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) {
      hash = Math.imul(hash ^ unit, FNV_PRIME);
    } else {
      // Rare path: hash the exact UTF-8 bytes of the rest of the string.
      for (const byte of encoder.encode(text.slice(i))) hash = Math.imul(hash ^ byte, FNV_PRIME);
      break;
    }
  }
  return hash >>> 0;
}

// 2862933555777941757 = 0x27bb2ee6_87b0b0fd, split into 32-bit halves.
const LCG_HI = 0x27bb2ee6;
const LCG_LO = 0x87b0b0fd;
const TWO_POW_31 = 2 ** 31;

/** High 32 bits of the 64-bit product of two unsigned 32-bit integers. */
function mulHigh32(a: number, b: number): number {
  const a0 = a & 0xffff;
  const a1 = a >>> 16;
  const b0 = b & 0xffff;
  const b1 = b >>> 16;
  const p00 = a0 * b0;
  const p01 = a0 * b1;
  const p10 = a1 * b0;
  const mid = (p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  return (a1 * b1 + (p01 >>> 16) + (p10 >>> 16) + Math.floor(mid / 0x10000)) >>> 0;
}

/**
 * Jump consistent hash of a key that fits in 32 bits, onto `buckets` buckets. The 64-bit arithmetic
 * of the reference algorithm is done on 32-bit halves, so it needs no BigInt on the hot path.
 */
export function jumpHash(key: number, buckets: number): number {
  let hi = 0;
  let lo = key >>> 0;
  let b = -1;
  let j = 0;
  while (j < buckets) {
    b = j;
    // (hi:lo) = (hi:lo) * LCG + 1, modulo 2^64
    const newHi = (mulHigh32(lo, LCG_LO) + Math.imul(hi, LCG_LO) + Math.imul(lo, LCG_HI)) >>> 0;
    const newLo = Math.imul(lo, LCG_LO) >>> 0;
    lo = (newLo + 1) >>> 0;
    hi = lo === 0 ? (newHi + 1) >>> 0 : newHi;
    // key >> 33 is the top 31 bits: hi >>> 1
    j = Math.floor((b + 1) * (TWO_POW_31 / ((hi >>> 1) + 1)));
  }
  return b;
}

/** The shard a key lives on, for a pool of `shards` shards. */
export function shardFor(key: string, shards: number): number {
  return shards === 1 ? 0 : jumpHash(fnv1a32(key), shards);
}
