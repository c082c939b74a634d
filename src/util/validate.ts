/**
 * Assertion helpers for options parsers.
 *
 * Options are checked once, where they enter (a constructor or
 * `createRealtime`), so the code behind them can trust them. The checks of
 * an app's options (`createRealtime`'s) run in the default build; the
 * `production` build trusts them (docs/options.md), each guarded inline with
 * `process.env.NODE_ENV !== 'production'` so bundlers drop them. Every helper
 * throws a `RangeError` — also for a value of the wrong type — so callers and
 * users have exactly one error type to expect from bad options. The message
 * names the field as the user wrote it (`circuit.failureThreshold`) and shows
 * the offending value, shortened: `circuit.failureThreshold must be an
 * integer ≥ 1, got 0`.
 */

/** Longest rendering of a value in an error message, in characters. */
const MAX_SHOWN_CHARS = 40;

/**
 * Renders `value` for an error message: JSON where JSON can show it, and
 * `NaN`, `Infinity`, `-0`, `undefined`, `10n`, `[function name]` where it
 * cannot; cut to about 40 characters. Never throws (cycles, BigInts and
 * throwing `toJSON` fall back to the `Object.prototype.toString` tag).
 */
export function describeValue(value: unknown): string {
  switch (typeof value) {
    case 'bigint':
      return `${value}n`;
    // What JSON cannot show (`NaN` would be `null`, `-0` would be `0`).
    case 'number':
    case 'undefined':
    case 'symbol':
      return Object.is(value, -0) ? '-0' : String(value);
    case 'function':
      return value.name ? `[function ${value.name}]` : '[function]';
  }
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch {
    // A cycle, a BigInt inside, a throwing toJSON: the tag below says enough.
  }
  text ??= {}.toString.call(value);
  // Cut on code points so a surrogate pair is never split in half.
  const codePoints = Array.from(text);
  return codePoints.length > MAX_SHOWN_CHARS ? `${codePoints.slice(0, MAX_SHOWN_CHARS - 1).join('')}…` : text;
}

/**
 * Throws the `RangeError` of every check here: `${field} must be ${expected},
 * got ${value}`; or, in the same words, the `TypeError` of an argument that
 * is not even of the right type (`createRealtime(null)`, a handler that is no
 * function).
 */
export function fail(
  field: string,
  expected: string,
  value: unknown,
  type: typeof RangeError | typeof TypeError = RangeError,
): never {
  throw new type(`${field} must be ${expected}, got ${describeValue(value)}`);
}

// The shared body of the numeric assertions; `kind` is what a valid value is.
function assertInRange(
  field: string,
  value: unknown,
  min: number,
  max: number | undefined,
  isKind: (value: unknown) => boolean,
  kind: string,
): void {
  // `isKind` (Number.isInteger, Number.isFinite) is false for a non-number.
  if (!isKind(value) || (value as number) < min || (max !== undefined && (value as number) > max)) {
    fail(field, `${kind} ≥ ${min}${max === undefined ? '' : ` and ≤ ${max}`}`, value);
  }
}

/**
 * Asserts that `value` is an integer in `[min, max]` (`max` omitted: no upper
 * bound). Throws `RangeError`, also for a non-number.
 */
export function assertInteger(
  field: string,
  value: unknown,
  min: number,
  max?: number,
): asserts value is number {
  assertInRange(field, value, min, max, Number.isInteger, 'an integer');
}

/**
 * Asserts that `value` is a finite number in `[min, max]` (`max` omitted: no
 * upper bound). `NaN` and `±Infinity` never pass. Throws `RangeError`, also
 * for a non-number.
 */
export function assertNumber(
  field: string,
  value: unknown,
  min: number,
  max?: number,
): asserts value is number {
  assertInRange(field, value, min, max, Number.isFinite, 'a finite number');
}

/** Asserts that `value` is `true` or `false` (not truthy/falsy). Throws `RangeError`. */
export function assertBoolean(field: string, value: unknown): asserts value is boolean {
  if (typeof value !== 'boolean') fail(field, 'a boolean', value);
}

/** Asserts that `value` is a string (non-empty with `nonEmpty`). Throws `RangeError`. */
export function assertString(field: string, value: unknown, nonEmpty?: boolean): asserts value is string {
  if (typeof value !== 'string' || (nonEmpty && value === '')) {
    fail(field, nonEmpty ? 'a non-empty string' : 'a string', value);
  }
}

/**
 * Asserts that `value` is an array of strings. A bad element is reported by
 * its index (`flags.disabledOrgs[2] must be a string, got 5`). Throws
 * `RangeError`.
 */
export function assertStringArray(field: string, value: unknown): asserts value is string[] {
  if (!Array.isArray(value)) fail(field, 'an array of strings', value);
  // Not forEach: it skips the holes of a sparse array, which are not strings.
  for (let index = 0; index < value.length; index++) assertString(`${field}[${index}]`, value[index]);
}

/** Asserts that `value` is a function. Throws `RangeError`. */
export function assertFunction(
  field: string,
  value: unknown,
): asserts value is (...args: never[]) => unknown {
  if (typeof value !== 'function') fail(field, 'a function', value);
}

/**
 * Asserts that `value` is a plain object (not `null`, not an array). Useful
 * for a nested options group such as `circuit`. Throws `RangeError`.
 */
export function assertObject(field: string, value: unknown): asserts value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(field, 'an object', value);
}

/** Levenshtein distance: the fewest inserts, deletes and replaces that turn `a` into `b`. */
function editDistance(a: string, b: string): number {
  // previous[j]: edits from a's first i - 1 characters to b's first j.
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++)
      row[j] = Math.min(
        previous[j]! + 1,
        row[j - 1]! + 1,
        previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    previous = row;
  }
  return previous[b.length]!;
}

/**
 * The known name `key` is most likely a typo of: the nearest within 2 edits,
 * case ignored (`orgID` is `orgId`), and fewer edits than `key` has
 * characters, so that a short key does not match every short name.
 * `undefined` when none is that close.
 */
function nearestName(key: string, names: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.min(3, key.length);
  for (const name of names) {
    const distance = editDistance(key.toLowerCase(), name.toLowerCase());
    if (distance < bestDistance) [best, bestDistance] = [name, distance];
  }
  return best;
}

/** ` (did you mean name?)` for the known name nearest `key`, or `''`. */
function didYouMean(key: string, names: readonly string[]): string {
  const name = nearestName(key, names);
  return name === undefined ? '' : ` (did you mean ${name}?)`;
}

/**
 * `input`, a group of options named `prefix` without its dot: `undefined`,
 * `null` or an object with no key `known` lacks (each refused as not `what`).
 * Anything else (`scope: 'org_1'`, `circuit: 5`, `circuit: {
 * failureTreshold: 5 }`) would read as "no options", every default taken
 * without a word. An unknown key is named `prefix + key` (`circuit.cooldwnMs`;
 * a prefix `''` for the top level) and the known ones listed: a typo
 * (`cooldwnMs`, `emergencyDisabled`) must not pass as nothing. In the
 * default build the message also names the known key it is closest to
 * (`circuit.cooldwnMs is not an option (did you mean cooldownMs?); known: …`).
 * It is refused whatever its value, `undefined` too, so a typo fails on every
 * run, not only on those that give it a value.
 */
export function group(
  input: unknown,
  prefix: string,
  known: object,
  what: string,
): Record<string, unknown> | null | undefined {
  if (input != null) {
    // The top level (prefix '') is the options object, checked by resolveOptions.
    if (prefix) assertObject(prefix.slice(0, -1), input);
    const names = Object.keys(known);
    for (const key of Object.keys(input))
      if (!names.includes(key))
        throw new RangeError(
          `${prefix}${key} is not ${what}${process.env.NODE_ENV !== 'production' ? didYouMean(key, names) : ''}; known: ${names.join(', ')}`,
        );
  }
  return input as Record<string, unknown> | null | undefined;
}

/** Checks `value` as the option `field`; `group` holds the values resolved before it in its group. */
export type Check = (field: string, value: unknown, group: Record<string, unknown>) => unknown;

/**
 * An integer in `[min, max]`; a string `min` names an earlier option of the
 * group, whose value is the bound, named in the message with its value, as
 * either may be the mistake (`backoff.capMs must be an integer ≥
 * backoff.baseMs (60000) and ≤ …`). Its own message rather than a parameter
 * of assertInteger, which the production build keeps (this is not in it).
 */
export const int =
  (min: number | string, max?: number): Check =>
  (field, value, group) => {
    if (typeof min === 'number') return assertInteger(field, value, min, max);
    const bound = group[min] as number;
    // Only timers take a bound from another option: `max` is theirs, given.
    if (!Number.isInteger(value) || (value as number) < bound || (value as number) > (max as number))
      fail(field, `an integer ≥ ${field.replace(/[^.]*$/, min)} (${bound}) and ≤ ${max}`, value);
  };
/** A finite number in `[min, max]`. */
export const num =
  (min: number, max?: number) =>
  (field: string, value: unknown): void =>
    assertNumber(field, value, min, max);

/**
 * Per option of a group, its default and its check, in the order they are
 * checked; per group nested in it (`leader` in the top level), its own table.
 * A check is written `process.env.NODE_ENV !== 'production' && check` where
 * only the default build runs it: the `production` build folds that to
 * `false`, drops the check's code, and takes the value as given.
 */
export type Defaults<T> = { readonly [K in keyof T]-?: Entry<T[K]> };
/** A group (an object type such as `leader`'s) has a table; any other option its default and check. */
type Entry<V> = [V] extends [Record<string, unknown>]
  ? Defaults<V>
  : readonly [fallback: V, check?: Check | false];

/**
 * Resolves a group of options from its table: per key, `[default, check]`,
 * or with `check` (one for the whole group) just the default (a number: an
 * object is the table of a nested group). Each option is the value `input`
 * gives or, when that is `undefined` or `null`, its default. Each is checked
 * as `prefix + key`, defaults too: a default can be out of a bound another
 * option moved (`circuit.maxCooldownMs` below a given `circuit.cooldownMs`).
 * A check returns nothing, which keeps the value, or what is kept instead
 * (a copy, for an array); no check (`false`, in the `production` build)
 * keeps the value. A nested group is resolved the same way, as
 * `prefix + key + '.'`, its unknown keys refused as not "an option" (only
 * options have nested groups).
 *
 * In the default build, an `input` that is no object, or has a key neither
 * `table` nor `extra` has, is refused as not `what` (see {@link group}); the
 * `production` build trusts the app's options and skips that.
 */
export function resolveGroup<T>(
  input: unknown,
  prefix: string,
  table: Defaults<T>,
  extra?: object | false,
): T;
export function resolveGroup<T>(
  input: unknown,
  prefix: string,
  table: object,
  extra: object | false | undefined,
  what: string | undefined,
  check?: Check | false,
): T;
export function resolveGroup<T>(
  input: unknown,
  prefix: string,
  table: object,
  extra?: object | false,
  what?: string,
  check?: Check | false,
): T {
  // A programmer's mistake in app code, not data: checked in the default build only.
  if (process.env.NODE_ENV !== 'production')
    group(input, prefix, { ...table, ...extra }, what ?? 'an option');
  const given = input as Record<string, unknown> | null | undefined;
  const out: Record<string, unknown> = {};
  for (const key in table) {
    const entry: unknown = table[key as keyof typeof table];
    const value = given?.[key];
    if (Array.isArray(entry) || typeof entry !== 'object') {
      // A tuple is one option; a number (of a table with one `check`) too.
      const [fallback, own] = Array.isArray(entry) ? (entry as [unknown, Check | false]) : [entry, check];
      out[key] = (own ? own(prefix + key, value ?? fallback, out) : undefined) ?? value ?? fallback;
    } else out[key] = resolveGroup(value, `${prefix}${key}.`, entry as Defaults<unknown>);
  }
  return out as T;
}

/**
 * Asserts that `value` is one of `allowed` (compared with `Object.is`, so
 * `NaN` can be listed and `0` is not `-0`). Throws `RangeError` listing the
 * allowed values.
 */
export function assertOneOf<const T extends string | number | boolean | null>(
  field: string,
  value: unknown,
  allowed: readonly T[],
): asserts value is T {
  if (!allowed.some((candidate) => Object.is(candidate, value))) {
    fail(field, `one of ${allowed.map(describeValue).join(', ')}`, value);
  }
}

/** Asserts a finite number > 0: a sketch's `minValue`, an SLO target. */
export function assertPositive(field: string, value: unknown): asserts value is number {
  // Number.isFinite is false for a non-number.
  if (!Number.isFinite(value) || (value as number) <= 0) {
    fail(field, 'a finite number > 0', value);
  }
}
