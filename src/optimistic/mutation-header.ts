import { randomId } from '../util/random-id';
import { fail } from '../util/validate';

/**
 * The request header that carries a mutation id to the backend.
 *
 * The contract with the backend (PROTOCOL.md, `mutationId`): when a write
 * request carries this header, the backend copies its value into the
 * `mutationId` field of every realtime event that write causes. The client
 * then sees its own write come back on the stream and marks the optimistic
 * mutation as visible (see `PendingMutations`). A backend that does not echo
 * the header loses nothing but the measurement: the mutation times out.
 *
 * Header names are case-insensitive in HTTP; this is the spelling tabwire
 * sends.
 */
export const MUTATION_ID_HEADER = 'X-Realtime-Mutation-Id';

/** Longest mutation id accepted, in characters. */
export const MAX_MUTATION_ID_LENGTH = 200;

// Visible ASCII only (`!` to `~`, 0x21 to 0x7E): the id travels as an HTTP
// header value, and `Headers` trims surrounding whitespace and rejects control
// characters, so any other id would either fail in `fetch` or come back
// changed and never match. The length is 1 (no empty id) to
// MAX_MUTATION_ID_LENGTH, written out here and in assertMutationId's message:
// the constant there would cost the core bundle bytes.
const MUTATION_ID_PATTERN = /^[!-~]{1,200}$/;

/**
 * Asserts that `value` can be a mutation id: a non-empty string of at most
 * {@link MAX_MUTATION_ID_LENGTH} visible ASCII characters (no spaces).
 * Throws `RangeError` naming `field`, also for a non-string.
 */
export function assertMutationId(field: string, value: unknown): asserts value is string {
  // `test` would read a non-string as its string (`null` as 'null').
  if (typeof value !== 'string' || !MUTATION_ID_PATTERN.test(value)) {
    fail(field, 'a string of 1..200 visible ASCII [!-~]', value);
  }
}

/**
 * A fresh mutation id: `m_` followed by 21 random characters (URL-safe
 * alphabet, so it is a valid header value as is). Create it before sending
 * the write, track it, then send it with {@link withMutationId}.
 */
export function newMutationId(): string {
  return `m_${randomId()}`;
}

// What `Headers` offers that a copy needs; matches polyfills and other realms too.
interface HeadersLike {
  forEach(callback: (value: string, name: string) => void): void;
}

/**
 * Returns a copy of `init` whose headers carry {@link MUTATION_ID_HEADER}
 * set to `mutationId`, for the app's own write request:
 *
 * @example
 * const id = newMutationId();
 * const m = rt.trackMutation(id);            // track first: the echo can beat the response
 * await fetch('/api/tasks', withMutationId({ method: 'POST', body }, id));
 *
 * The headers keep their shape — a `Headers` object stays a (new) `Headers`,
 * an array of pairs a (new) array, a record a (new) record, and any other
 * iterable of pairs (`headers.entries()`, a generator, a `Map`) becomes an
 * array — so code that inspects them afterwards still works. A header of the same name already
 * present, in any letter case, is replaced rather than duplicated (a
 * duplicate would reach the backend as `a, b`). Neither `init` nor its
 * headers are mutated; other fields are copied shallowly.
 *
 * With a `Request` as fetch's input, pass that request as `init` too:
 * `fetch(request, withMutationId(request, id))`. Headers given in `init`
 * replace all of the request's, so `withMutationId({}, id)` there would
 * drop its `Authorization` and `Content-Type`; the copy made from the
 * request keeps them (its method and body stay the request's).
 *
 * @throws RangeError when `mutationId` is not a valid id (see {@link assertMutationId}).
 */
export function withMutationId(init: RequestInit | undefined, mutationId: string): RequestInit {
  assertMutationId('mutationId', mutationId);
  const headers = init?.headers;
  const lowerName = MUTATION_ID_HEADER.toLowerCase();
  let copy: HeadersInit;
  if (headers === undefined || headers === null) {
    copy = { [MUTATION_ID_HEADER]: mutationId };
  } else if (Symbol.iterator in headers && typeof (headers as Partial<Headers>).append !== 'function') {
    // Any iterable of pairs fetch takes, but a Headers: `entries()`, a
    // generator, a Set (whose forEach gives no names).
    copy = Array.from(headers as Iterable<[string, string]>, (pair): [string, string] => [
      pair[0],
      pair[1],
    ]).filter((pair) => String(pair[0]).toLowerCase() !== lowerName);
    copy.push([MUTATION_ID_HEADER, mutationId]);
  } else if (typeof (headers as Partial<HeadersLike>).forEach === 'function') {
    // Not a record: a record's values are strings, never functions.
    const fresh = new Headers();
    (headers as HeadersLike).forEach((value, name) => {
      fresh.append(name, value);
    });
    fresh.set(MUTATION_ID_HEADER, mutationId);
    copy = fresh;
  } else {
    const record: Record<string, string> = {};
    for (const [name, value] of Object.entries(headers)) {
      if (name.toLowerCase() !== lowerName) record[name] = value;
    }
    record[MUTATION_ID_HEADER] = mutationId;
    copy = record;
  }
  return { ...init, headers: copy };
}
