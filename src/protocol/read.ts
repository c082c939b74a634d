import type { Cursor } from './schemas';

// The small kit every hand-written reader of untrusted input is made of.
//
// zod stays the definition of each message (src/protocol/schemas.ts,
// src/tabs/channel-schemas.ts); the browser bundle carries these readers
// instead, because zod's core alone weighs more than half the bundle budget.
// Each reader's test is a differential property test: whatever zod accepts
// the reader accepts, with a strictly equal result, and nothing else.

/**
 * A service name: letters, digits, `_ . : -`, 1..100 chars, never one of the
 * names that would reach Object.prototype if used as a plain-object key.
 */
export const SERVICE_NAME_PATTERN = /^(?!__proto__$|constructor$|prototype$)[A-Za-z0-9_.:-]{1,100}$/;

/** zod's `isObject`: a non-null, non-array object. */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** zod's `isPlainObject`, which guards `z.record`. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (!isObject(value)) return false;
  const ctor = value.constructor;
  if (ctor === undefined || typeof ctor !== 'function') return true;
  const proto: unknown = ctor.prototype;
  return isObject(proto) && Object.hasOwn(proto, 'isPrototypeOf');
}

/** `serviceNameSchema`. */
export function isServiceName(value: unknown): value is string {
  return typeof value === 'string' && SERVICE_NAME_PATTERN.test(value);
}

/** `seqSchema`: a safe integer ≥ 0. */
export function isSeq(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

/** `z.number()`: a finite number. */
export function isNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

/**
 * The own enumerable keys `z.record` visits, `__proto__` left out: zod skips
 * it silently, and copying it by assignment would set the result's prototype.
 */
export function recordKeys(value: Record<string, unknown>): Array<string | symbol> {
  return Reflect.ownKeys(value).filter(
    (key) => key !== '__proto__' && Object.prototype.propertyIsEnumerable.call(value, key),
  );
}

/** `cursorSchema` (`z.record(serviceName, seq)`), or undefined when it would refuse. */
export function readCursor(value: unknown): Cursor | undefined {
  if (!isPlainObject(value)) return undefined;
  const cursor: Cursor = {};
  for (const key of recordKeys(value)) {
    if (!isServiceName(key)) return undefined;
    const seq = value[key];
    if (!isSeq(seq)) return undefined;
    cursor[key] = seq;
  }
  return cursor;
}

/** `z.array(serviceNameSchema)`, copied, or undefined when it would refuse. */
export function readServiceNames(value: unknown): string[] | undefined {
  return Array.isArray(value) && value.every(isServiceName) ? [...value] : undefined;
}
