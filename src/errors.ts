/**
 * The stable, machine-readable `code` of a {@link RealtimeError}, so apps can
 * branch on it instead of parsing messages. Connection failures (the
 * `disconnected` and `forbidden` events, a transport's rejection; shown as
 * `code: message` in `getState().lastError`) and a part that could not load
 * (`load_failed`, on the `error` event; the token provider's on
 * `disconnected`, as its connect attempt fails) are RealtimeErrors. Not
 * every failure is: bad options and arguments throw a `RangeError` or
 * `TypeError` (docs/options.md), and what a subscriber throws reaches the
 * `error` event as it was thrown. So `invalid_options` and `handler_failed`
 * are never produced, nor is `circuit_open` (an open circuit shows in
 * `getState().circuit`; `circuit_open` is a reason of the rollback guard);
 * they stay so that code naming them still compiles. Every code, and when
 * it comes: docs/troubleshooting.md#error-codes.
 */
export type RealtimeErrorCode =
  | 'invalid_options'
  | 'invalid_frame'
  | 'transport_unavailable'
  | 'load_failed'
  | 'connect_timeout'
  | 'connection_lost'
  | 'heartbeat_timeout'
  | 'unauthorized'
  | 'forbidden'
  | 'overloaded'
  | 'bad_request'
  | 'server_error'
  | 'auth_failed'
  | 'circuit_open'
  | 'closed'
  | 'handler_failed';

/**
 * Marks every RealtimeError, of whichever copy of tabwire made it. An app
 * that loads `tabwire/testing` by `require` and `tabwire` by `import` (or two
 * bundles with a tabwire each) has two RealtimeError classes; `instanceof`
 * by prototype would then take an error of one copy for a plain error in the
 * other, and a `forbidden` from a fake backend for a lost connection.
 * `Symbol.for` gives every copy the same symbol.
 */
const BRAND = Symbol.for('tabwire.RealtimeError');

/**
 * The error type of tabwire; `code` says what went wrong. `instanceof
 * RealtimeError` also holds for an error made by another copy of tabwire.
 */
export class RealtimeError extends Error {
  override readonly name = 'RealtimeError';
  // `declare`: no class-field definitions to emit; the constructor sets all
  // three on every instance, in this order.
  declare readonly code: RealtimeErrorCode;
  /** HTTP status behind the error, when there was one. */
  declare readonly status?: number;
  /** Server's `retryAfterMs` / `Retry-After`, when it sent one; the client waits at most 5 minutes of it. */
  declare readonly retryAfterMs?: number;

  constructor(
    code: RealtimeErrorCode,
    message: string,
    options: { cause?: unknown; status?: number; retryAfterMs?: number } = {},
  ) {
    // Error reads only `cause` from its options; an undefined one is left out.
    super(message, options.cause === undefined ? undefined : options);
    this.code = code;
    // The fields exist on every instance; unknown ones stay undefined.
    this.status = options.status;
    this.retryAfterMs = options.retryAfterMs;
  }
}

// The mark and the check are set outside the class body. Inside it they
// would be in the public type, where each copy's .d.ts declares a symbol of
// its own, so two copies' RealtimeError types would no longer be assignable
// to each other; and a class that names itself in its body is emitted as
// `_RealtimeError`, which is then its `name` in Node's output.
Object.defineProperty(RealtimeError.prototype, BRAND, { value: true });
Object.defineProperty(RealtimeError, Symbol.hasInstance, {
  /** A RealtimeError of any copy of tabwire; for a subclass, by its prototype chain as usual. */
  value(this: abstract new (...args: never[]) => unknown, value: unknown): boolean {
    // The mark is an own property of the prototypes only: a prototype itself
    // is no instance, as with the built-in check.
    return this === RealtimeError
      ? BRAND in Object(value) && !Object.hasOwn(Object(value), BRAND)
      : Function.prototype[Symbol.hasInstance].call(this, value);
  },
});

/** True when `value` is a RealtimeError, optionally of one code. */
export function isRealtimeError(value: unknown, code?: RealtimeErrorCode): value is RealtimeError {
  return value instanceof RealtimeError && (!code || value.code === code);
}
