import { type Field, is, isPlainObject, type Reader, readObject, recordKeys } from '../protocol/read';

// Generic pieces of the hand-written readers of cross-tab input
// (channel-messages.ts, the storage lease of leader-election.ts), on top of
// the kit of src/protocol/read.ts. Each mirrors one zod construct exactly;
// the zod definitions live in channel-schemas.ts and the differential
// property tests (test/unit/tabs/channel-reader.test.ts) hold the two
// together.
//
// `Reader`, `Field`, `is`, `arrayOf` and `readObject` live in read.ts,
// shared with the protocol readers; they are re-exported here so the tab
// readers import one kit.
export { arrayOf, type Field, is, type Reader, readObject } from '../protocol/read';

/**
 * `z.string()` with `minLength(min)` / `maxLength(max)`. zod counts code
 * points, not UTF-16 units (a surrogate pair once, a lone surrogate as one,
 * as the string iterator does). A code point is one or two units, so only a
 * string the unit count cannot decide (at most 2·max units) is counted.
 */
export const text = (min = 0, max = Number.POSITIVE_INFINITY): Reader =>
  is((value) => {
    if (typeof value !== 'string') return false;
    const units = value.length;
    const length =
      units < min || units > 2 * max || (units >= 2 * min && units <= max) ? units : [...value].length;
    return length >= min && length <= max;
  });

/** `z.enum([…])` of strings, or `z.literal(…)` of a string or number (`includes` compares as `===` does for them). */
export const oneOf = (...values: unknown[]): Reader => is((value) => values.includes(value));

/** `z.record(z.string(), z.unknown())`, copied: a symbol key refuses, `__proto__` is skipped. */
export function readRecord(value: unknown): Record<string, unknown> | undefined {
  if (!isPlainObject(value)) return undefined;
  const out: Record<string, unknown> = {};
  for (const key of recordKeys(value)) {
    if (typeof key !== 'string') return undefined;
    out[key] = value[key];
  }
  return out;
}

/** `z.object(shape)` as a reader, for a nested object. */
export const shape =
  (fields: readonly Field[]): Reader =>
  (value) =>
    readObject(value, fields);
