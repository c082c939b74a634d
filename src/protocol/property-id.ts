/**
 * A property id as a property filter names it: non-empty, no comma, no lone
 * surrogate. SSE and long-poll list the ids comma-separated in the query
 * (PROTOCOL.md), so one with a comma reaches the server as two; a lone
 * surrogate makes `encodeURIComponent` throw `URIError` where the query is
 * built. No length bound: PROTOCOL.md sets none, servers take long ids, and
 * a tab of an older deploy may announce one (its needs dropped, it would get
 * none of its events). The u flag reads a lone surrogate as one code point
 * of `\p{Cs}` (no ES2024 `isWellFormed` needed).
 */
export const PROPERTY_ID_PATTERN = /^[^,\p{Cs}]+$/u;

/** `propertyIdSchema`. */
export function isPropertyId(value: unknown): value is string {
  return typeof value === 'string' && PROPERTY_ID_PATTERN.test(value);
}
