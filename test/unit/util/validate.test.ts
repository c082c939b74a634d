import { describe, expect, it } from 'vitest';
import {
  assertBoolean,
  assertFunction,
  assertInteger,
  assertNumber,
  assertObject,
  assertOneOf,
  assertString,
  assertStringArray,
  describeValue,
} from '../../../src/util/validate';

/** Runs `fn` and returns what it threw, failing the test if it did not throw. */
function thrown(fn: () => void): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

function expectRangeError(fn: () => void, message: string): void {
  const error = thrown(fn);
  expect(error).toBeInstanceOf(RangeError);
  expect((error as RangeError).message).toBe(message);
}

describe('describeValue', () => {
  it.each([
    [0, '0'],
    [-0, '-0'],
    [1.5, '1.5'],
    [Number.NaN, 'NaN'],
    [Number.POSITIVE_INFINITY, 'Infinity'],
    [Number.NEGATIVE_INFINITY, '-Infinity'],
    [10n, '10n'],
    [undefined, 'undefined'],
    [null, 'null'],
    [true, 'true'],
    ['abc', '"abc"'],
    ['', '""'],
    [[1, 'a'], '[1,"a"]'],
    [{ a: 1 }, '{"a":1}'],
    [Symbol('s'), 'Symbol(s)'],
  ])('shows %s as %s', (value, shown) => {
    expect(describeValue(value)).toBe(shown);
  });

  it('names functions', () => {
    function getToken(): void {}
    expect(describeValue(getToken)).toBe('[function getToken]');
    expect(describeValue(Object.defineProperty(() => {}, 'name', { value: '' }))).toBe('[function]');
  });

  it('cuts long values to 40 characters with an ellipsis', () => {
    const shown = describeValue('x'.repeat(100));
    expect(shown).toBe(`"${'x'.repeat(38)}…`);
    expect(Array.from(shown)).toHaveLength(40);
  });

  it('never splits a surrogate pair when cutting', () => {
    const shown = describeValue('😀'.repeat(50));
    expect(shown.endsWith('…')).toBe(true);
    expect(shown.slice(0, -1)).toBe(`"${'😀'.repeat(38)}`);
  });

  it('falls back to the type tag for cycles, BigInt members and throwing toJSON', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(describeValue(cyclic)).toBe('[object Object]');
    expect(describeValue({ n: 1n })).toBe('[object Object]');
    expect(
      describeValue({
        toJSON() {
          throw new Error('no');
        },
      }),
    ).toBe('[object Object]');
  });
});

describe('assertInteger', () => {
  it('accepts integers in range, bounds included', () => {
    expect(() => assertInteger('f', 1, 1)).not.toThrow();
    expect(() => assertInteger('f', 10, 1, 10)).not.toThrow();
    expect(() => assertInteger('f', Number.MAX_SAFE_INTEGER, 0)).not.toThrow();
  });

  it('names the field and shows the value', () => {
    expectRangeError(
      () => assertInteger('circuit.failureThreshold', 0, 1),
      'circuit.failureThreshold must be an integer ≥ 1, got 0',
    );
    expectRangeError(() => assertInteger('n', 11, 1, 10), 'n must be an integer ≥ 1 and ≤ 10, got 11');
  });

  it.each([1.5, Number.NaN, Number.POSITIVE_INFINITY, '3', null, undefined, 3n])('rejects %s', (value) => {
    expect(() => assertInteger('f', value, 0)).toThrow(RangeError);
  });

  it('shows a wrong type quoted, so "3" is told apart from 3', () => {
    expectRangeError(() => assertInteger('f', '3', 0), 'f must be an integer ≥ 0, got "3"');
  });
});

describe('assertNumber', () => {
  it('accepts finite numbers in range', () => {
    expect(() => assertNumber('f', 0, 0)).not.toThrow();
    expect(() => assertNumber('f', 0.5, 0, 1)).not.toThrow();
  });

  it.each([
    [Number.NaN, 'f must be a finite number ≥ 0, got NaN'],
    [Number.POSITIVE_INFINITY, 'f must be a finite number ≥ 0, got Infinity'],
    [-1, 'f must be a finite number ≥ 0, got -1'],
    ['1', 'f must be a finite number ≥ 0, got "1"'],
  ])('rejects %s', (value, message) => {
    expectRangeError(() => assertNumber('f', value, 0), message);
  });

  it('enforces the upper bound', () => {
    expectRangeError(
      () => assertNumber('rate', 1.01, 0, 1),
      'rate must be a finite number ≥ 0 and ≤ 1, got 1.01',
    );
  });
});

describe('assertBoolean', () => {
  it('accepts true and false only', () => {
    expect(() => assertBoolean('f', true)).not.toThrow();
    expect(() => assertBoolean('f', false)).not.toThrow();
    expectRangeError(() => assertBoolean('flags.enabled', 1), 'flags.enabled must be a boolean, got 1');
    expectRangeError(() => assertBoolean('f', 'false'), 'f must be a boolean, got "false"');
  });
});

describe('assertString', () => {
  it('accepts any string by default, empty included', () => {
    expect(() => assertString('f', '')).not.toThrow();
    expect(() => assertString('f', 'x', true)).not.toThrow();
  });

  it('rejects non-strings and, with nonEmpty, the empty string', () => {
    expectRangeError(() => assertString('url', 5), 'url must be a string, got 5');
    expectRangeError(() => assertString('url', '', true), 'url must be a non-empty string, got ""');
  });
});

describe('assertStringArray', () => {
  it('accepts arrays of strings', () => {
    expect(() => assertStringArray('f', [])).not.toThrow();
    expect(() => assertStringArray('f', ['a', ''])).not.toThrow();
  });

  it('rejects non-arrays and reports a bad element by index', () => {
    expectRangeError(
      () => assertStringArray('services', 'tasks'),
      'services must be an array of strings, got "tasks"',
    );
    expectRangeError(
      () => assertStringArray('services', ['a', 'b', 5]),
      'services[2] must be a string, got 5',
    );
    expectRangeError(
      // A hole of a sparse array is no string either.
      () => assertStringArray('services', Object.assign(['a'], { 2: 'c' })),
      'services[1] must be a string, got undefined',
    );
  });
});

describe('assertFunction', () => {
  it('accepts functions, rejects the rest', () => {
    expect(() => assertFunction('f', () => {})).not.toThrow();
    expect(() => assertFunction('f', class {})).not.toThrow();
    expectRangeError(
      () => assertFunction('auth.getToken', 'tok'),
      'auth.getToken must be a function, got "tok"',
    );
  });
});

describe('assertObject', () => {
  it('accepts plain objects, rejects null, arrays and primitives', () => {
    expect(() => assertObject('f', {})).not.toThrow();
    expectRangeError(() => assertObject('circuit', null), 'circuit must be an object, got null');
    expectRangeError(() => assertObject('circuit', []), 'circuit must be an object, got []');
    expectRangeError(() => assertObject('circuit', 3), 'circuit must be an object, got 3');
  });
});

describe('assertOneOf', () => {
  it('accepts a listed value', () => {
    expect(() => assertOneOf('leader.strategy', 'locks', ['auto', 'locks'])).not.toThrow();
    expect(() => assertOneOf('f', null, [null])).not.toThrow();
  });

  it('lists the allowed values', () => {
    expectRangeError(
      () => assertOneOf('leader.strategy', 'lock', ['auto', 'locks', 'storage', 'none']),
      'leader.strategy must be one of "auto", "locks", "storage", "none", got "lock"',
    );
  });

  it('compares with Object.is', () => {
    expect(() => assertOneOf('f', -0, [0])).toThrow(RangeError);
    expect(() => assertOneOf('f', '1', [1])).toThrow(RangeError);
  });
});
