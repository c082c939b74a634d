import fc from 'fast-check';
import { expect, it } from 'vitest';

// Pieces shared by the differential property tests that hold each
// hand-written reader to its zod schema (test/unit/protocol/batch-reader,
// frame-reader, test/unit/tabs/channel-reader).

/**
 * Any value at all, weighted towards the ones readers get wrong: numbers at
 * the edges of safe integers and finiteness, prototype names, empty and
 * long strings, null-prototype objects, holes. `extra` adds values a reader
 * cares about (its type names, say).
 */
export function weird(...extra: unknown[]): fc.Arbitrary<unknown> {
  return fc.oneof(
    fc.constantFrom<unknown>(
      undefined,
      null,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
      -0,
      0,
      1,
      '1',
      2,
      1.5,
      -1,
      100,
      100.5,
      2 ** 53,
      2 ** 53 - 1,
      1e308,
      -1e308,
      Number.MIN_VALUE,
      '',
      'x',
      '__proto__',
      'constructor',
      'prototype',
      'toString',
      'a b',
      'x'.repeat(101),
      'x'.repeat(129),
      [],
      [undefined],
      [1],
      ['tasks'],
      {},
      { tasks: 1 },
      Object.create(null),
      true,
      false,
      ...extra,
    ),
    fc.jsonValue(),
    fc.anything({ withNullPrototype: true, withBoxedValues: true, withSparseArray: true, withMap: true }),
  );
}

/**
 * JSON text of `value` in which every object has an own `__proto__` key set
 * to `proto`, as only `JSON.parse` can make them (an object literal would set
 * the prototype instead). `undefined` where `value` has no JSON text.
 */
export function withOwnProtoKeys(value: unknown, proto: unknown): string | undefined {
  return jsonText(value, (input) =>
    JSON.stringify(input, (key, v: unknown) => {
      if (key === '__proto__' || typeof v !== 'object' || v === null || Array.isArray(v)) return v;
      // fromEntries defines keys (never the __proto__ setter), so the copy has an own __proto__ key.
      return Object.fromEntries([
        ['__proto__', proto],
        ...Object.entries(v).filter(([k]) => k !== '__proto__'),
      ]);
    }),
  );
}

/** `stringify(value)`, or `undefined` where it throws (BigInt and friends: not a JSON input). */
export function jsonText(
  value: unknown,
  stringify: (value: unknown) => string | undefined = JSON.stringify,
): string | undefined {
  try {
    return stringify(value);
  } catch {
    return undefined;
  }
}

/**
 * The keys of `value` and of everything in it, in order: two results with
 * equal shapes have the same keys in the same order (what `toEqual` does not
 * check), and absent optional keys stay absent.
 */
export function shapeOf(value: unknown, depth = 0): unknown {
  if (depth > 6 || typeof value !== 'object' || value === null) return typeof value;
  if (Array.isArray(value)) return value.map((item) => shapeOf(item, depth + 1));
  return Reflect.ownKeys(value).map((key) => [
    String(key),
    shapeOf((value as Record<PropertyKey, unknown>)[key], depth + 1),
  ]);
}

/** Both sides of the schema's boundary were really explored: each outcome came up more than `min` times. */
export function expectExplored(seen: { accepted: number; declined: number }, min: number): void {
  expect(seen.accepted).toBeGreaterThan(min);
  expect(seen.declined).toBeGreaterThan(min);
}

/** A zod schema, as far as the differential needs it. */
export interface Schema {
  safeParse(input: unknown): { success: boolean; data?: unknown };
}

/** Whether the reader agreed with zod by accepting the input, or by refusing it. */
export type Outcome = 'accepted' | 'declined';

/**
 * The differential: `read` must not throw, must accept exactly when `schema`
 * does (a zod throw — a getter, a revoked Proxy — counts as a refusal), and
 * then return a strictly equal plain object with the same keys in the same
 * order.
 */
export function expectSameAsZod(read: (input: unknown) => unknown, schema: Schema, input: unknown): Outcome {
  let fast: unknown;
  expect(() => {
    fast = read(input);
  }).not.toThrow();
  let zod: { success: boolean; data?: unknown };
  try {
    zod = schema.safeParse(input);
  } catch {
    zod = { success: false };
  }
  expect(fast !== undefined).toBe(zod.success);
  if (!zod.success) return 'declined';
  expect(fast).toStrictEqual(zod.data);
  expect(shapeOf(fast)).toEqual(shapeOf(zod.data));
  expect(Object.getPrototypeOf(fast)).toBe(Object.prototype);
  return 'accepted';
}

/**
 * The property every differential reader test runs: `check` (which compares
 * the reader with its schema) on any value `values` draws, odd ones included.
 */
export function itAgreesOnAnyValue(
  values: fc.Arbitrary<unknown>,
  check: (value: unknown) => unknown,
  numRuns = 500,
): void {
  it('on any value at all (property)', () => {
    fc.assert(
      fc.property(values, (value) => {
        check(value);
      }),
      { numRuns },
    );
  });
}
