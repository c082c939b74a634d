import type { Cursor } from './schemas';
import { isServiceName } from './service-name';

export { isServiceName, SERVICE_NAME_PATTERN } from './service-name';

// The small kit every hand-written reader of untrusted input is made of.
//
// zod stays the definition of each message (src/protocol/schemas.ts,
// src/tabs/channel-schemas.ts); the browser bundle carries these readers
// instead, because zod's core alone weighs more than half the bundle budget.
// Each reader's test is a differential property test: whatever zod accepts
// the reader accepts, with a strictly equal result, and nothing else.

/** zod's `isObject`: a non-null, non-array object. */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `seqSchema`: a safe integer ≥ 0. */
export function isSeq(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

/** `z.int().check(z.positive())`: a safe integer > 0. */
export const isPositiveInt = (value: unknown): value is number => isSeq(value) && value > 0;

/** `z.number()`: a finite number (`Number.isFinite` is false for anything but a number). */
export const isNumber = Number.isFinite as (value: unknown) => value is number;

/**
 * `z.record(key, value)` for a key and a value schema that output their
 * input, copied, or undefined where zod would refuse. It visits the own
 * enumerable keys zod visits, `__proto__` left out: zod skips it silently,
 * and copying it by assignment would set the result's prototype. A symbol
 * key fails both key tests used here, as it fails zod's string key schemas.
 */
/** `z.record(key, value)`: a plain object whose every own enumerable key and value pass; copied. */
export const recordOf =
  (keyOk: (key: string | symbol) => key is string, valueOk: (value: unknown) => boolean) =>
  (value: unknown): Record<string, unknown> | undefined => {
    if (!isObject(value)) return undefined;
    // zod's `isPlainObject`: a `constructor` that is a function (zod: one that
    // is not `undefined` and not a function passes) has a prototype object
    // with an own `isPrototypeOf`.
    const ctor = value.constructor;
    const proto: unknown = typeof ctor === 'function' ? ctor.prototype : Object.prototype;
    if (!isObject(proto) || !Object.hasOwn(proto, 'isPrototypeOf')) return undefined;
    const out: Record<string, unknown> = {};
    for (const key of Reflect.ownKeys(value)) {
      if (key === '__proto__' || !{}.propertyIsEnumerable.call(value, key)) continue;
      if (!keyOk(key)) return undefined;
      const item = value[key];
      if (!valueOk(item)) return undefined;
      out[key] = item;
    }
    return out;
  };

/** `cursorSchema` (`z.record(serviceName, seq)`), or undefined when it would refuse. */
export const readCursor = recordOf(isServiceName, isSeq) as (value: unknown) => Cursor | undefined;

// Readers of composite values. A reader returns the value zod would output,
// or `undefined` where zod would refuse. No schema read with these ever
// outputs `undefined` for a required field, so `undefined` is free to mean
// "refused"; the one place zod keeps an `undefined` (a present optional key)
// is handled by `readObject` itself.

/** Reads one value; `undefined` means refused. */
export type Reader = (value: unknown) => unknown;

/** One key of a `z.object` shape: key, reader and, for `z.optional(…)`, a 1. */
export type Field = readonly [key: string, read: Reader, optional?: 1];

/** A check as a reader: the value itself, unchanged, where `test` passes it. */
export const is =
  (test: (value: unknown) => boolean): Reader =>
  (value) =>
    test(value) ? value : undefined;

/**
 * `z.array(item)` for an item schema that outputs its input, copied. Read
 * by the array's iterator, which yields a hole as an `undefined` item as
 * zod's indexed loop reads it (`every` would skip it), and stopping at the
 * first bad item, where zod walks on to the end.
 */
export const arrayOf =
  (test: (value: unknown) => boolean): Reader =>
  (value) => {
    if (!Array.isArray(value)) return undefined;
    const out: unknown[] = [];
    for (const item of value) {
      if (!test(item)) return undefined;
      out.push(item);
    }
    return out;
  };

/**
 * `z.object(shape)`, or undefined where it would refuse. Like zod it reads
 * each field once (own or inherited) and asks `in` whether it is present:
 * a required field must be; an absent optional one is left out, a present
 * one kept even when `undefined`. Unknown keys are never read, so never
 * copied; the result is built in the shape's key order.
 */
export function readObject(input: unknown, fields: readonly Field[]): Record<string, unknown> | undefined {
  if (!isObject(input)) return undefined;
  const out: Record<string, unknown> = {};
  for (const [key, read, optional] of fields) {
    let value = input[key];
    if (key in input) {
      if (value !== undefined || !optional) {
        value = read(value);
        if (value === undefined) return undefined;
      }
      out[key] = value;
    } else if (!optional) return undefined;
  }
  return out;
}

/** `z.array(serviceNameSchema)`, copied, or undefined when it would refuse. */
export const readServiceNames = arrayOf(isServiceName) as (value: unknown) => string[] | undefined;

/**
 * `z.string()` with `minLength(min)` / `maxLength(max)`. zod counts code
 * points, not UTF-16 units (a surrogate pair once, a lone surrogate as one,
 * as the string iterator does). A code point is one or two units, so a
 * string of more than 2·max units is too long and one of 2·min to max units
 * fits: only the others are counted.
 */
export const text = (min = 0, max = Infinity): Reader => {
  const fits = (length: number): boolean => length >= min && length <= max;
  return is(
    (value) =>
      typeof value === 'string' &&
      value.length <= 2 * max &&
      ((value.length >= 2 * min && fits(value.length)) || fits([...value].length)),
  );
};

/** `z.string()`. */
export const str = text();

/** `z.number()`. */
export const num = is(isNumber);

/** `z.enum([…])` of strings, or `z.literal(…)` of a string or number (`includes` compares as `===` does for them). */
export const oneOf = (...values: unknown[]): Reader => is((value) => values.includes(value));

/** `z.record(z.string(), z.unknown())`, copied: a symbol key refuses, `__proto__` is skipped. */
export const readRecord = recordOf(
  (key) => typeof key === 'string',
  () => true,
);

/** `z.object(shape)` as a reader, for a nested object. */
export const shape =
  (fields: readonly Field[]): Reader =>
  (value) =>
    readObject(value, fields);

/**
 * `z.discriminatedUnion('type', …)` of objects, once the caller has read the
 * discriminator `type` (as zod does to pick the member): the member named
 * `type`, whose fields are `before` (those every member starts with), `type`
 * as its own literal field (the member reads it once more), then
 * `members[type]`. Undefined where no member has that type, or it refuses.
 */
export const readMember = (
  value: unknown,
  type: unknown,
  members: Record<string, readonly Field[]>,
  before: readonly Field[] = [],
): Record<string, unknown> | undefined =>
  typeof type === 'string' && Object.hasOwn(members, type)
    ? readObject(value, [...before, ['type', oneOf(type)], ...(members[type] as readonly Field[])])
    : undefined;
