/**
 * A property id as a property filter names it: 1..100 code points, no comma,
 * no lone surrogate. SSE and long-poll list the ids comma-separated in the
 * query (PROTOCOL.md), so one with a comma reaches the server as two; a lone
 * surrogate makes `encodeURIComponent` throw `URIError` where the query is
 * built; the bound, as service names', keeps one tab's filter from making
 * the shared connection's URL too long for a server or proxy. A u-mode
 * pattern counts code points, as zod's `maxLength` does, and reads a lone
 * surrogate as one code point of `\p{Cs}` (no ES2024 `isWellFormed` needed).
 */
export const PROPERTY_ID_PATTERN = /^[^,\p{Cs}]{1,100}$/u;

/** `propertyIdSchema`. */
export function isPropertyId(value: unknown): value is string {
  return typeof value === 'string' && PROPERTY_ID_PATTERN.test(value);
}
