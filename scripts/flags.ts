/** The one parser for the scripts' numeric command-line flags (the values `parseArgs` returns as text). */

export interface NumberFlagBounds {
  /** @default 1 */
  min?: number;
  /** @default Number.MAX_SAFE_INTEGER */
  max?: number;
  /** @default true */
  integer?: boolean;
}

/**
 * The flag's number, or `fallback` when it was not given. Throws, naming the flag, the text and the
 * expectation, for anything else: empty text, not a number, a fraction where an integer is wanted,
 * or a value outside [min, max].
 *
 * @example numberFlag('trials', values.trials, 20) // --trials 5 -> 5; absent -> 20; --trials 0 -> throws
 */
export function numberFlag(flag: string, text: string | boolean | undefined, fallback: number, bounds: NumberFlagBounds = {}): number {
  if (text === undefined) return fallback;
  const { min = 1, max = Number.MAX_SAFE_INTEGER, integer = true } = bounds;
  const value = Number(text);
  if (typeof text !== 'string' || text.trim() === '' || !Number.isFinite(value) || (integer && !Number.isInteger(value)) || value < min || value > max) {
    const expected = integer && min === 1 && max === Number.MAX_SAFE_INTEGER ? 'a positive integer'
      : `${integer ? 'an integer' : 'a number'} from ${min} to ${max}`;
    throw new Error(`--${flag} must be ${expected}, got ${JSON.stringify(text)}`);
  }
  return value;
}
