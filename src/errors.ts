/**
 * Every failure tabwire reports to app code is a `RealtimeError` with a stable
 * machine-readable `code`, so apps can branch on the code instead of parsing
 * messages.
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

/** The error type of tabwire; `code` says what went wrong. */
export class RealtimeError extends Error {
  override readonly name = 'RealtimeError';
  // `declare`: no class-field definitions to emit; the constructor sets all
  // three on every instance, in this order.
  declare readonly code: RealtimeErrorCode;
  /** HTTP status behind the error, when there was one. */
  declare readonly status?: number;
  /** Server's `retryAfterMs` / `Retry-After`, when it sent one. */
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

/** True when `value` is a RealtimeError, optionally of one code. */
export function isRealtimeError(value: unknown, code?: RealtimeErrorCode): value is RealtimeError {
  return value instanceof RealtimeError && (!code || value.code === code);
}
