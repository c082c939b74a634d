import { RealtimeError, type RealtimeErrorCode } from '../errors';

// The errors every transport makes. The core loads this module up front (the
// lazy built-ins report a failed load with `unavailable`); the transports get
// these helpers through kit.ts, never by importing this module, which would
// split it and errors.ts into a chunk of their own. Errors only the HTTP
// transports make live in http-request.ts, so the WebSocket-only app does not
// download them.

/**
 * The refusals of PROTOCOL.md: error code → the HTTP status the same refusal
 * has over HTTP (a WebSocket's close code is 4000 + that status: 4400, 4401,
 * 4403, 4429). The codes of a server's `error` frame that keep their meaning;
 * any other becomes `server_error`. A Map, not an object: the code comes from
 * the network and must not reach Object.prototype (`constructor`,
 * `__proto__`).
 */
export const REFUSALS: ReadonlyMap<string, number> = new Map<RealtimeErrorCode, number>([
  ['bad_request', 400],
  ['unauthorized', 401],
  ['forbidden', 403],
  ['overloaded', 429],
]);

/**
 * A `transport_unavailable` error: this transport cannot be used here or now,
 * so the fallback chain tries the next one.
 */
export function unavailable(message: string, options?: { cause?: unknown; status?: number }): RealtimeError {
  return new RealtimeError('transport_unavailable', message, options);
}

/**
 * The rejection of a connect attempt the core aborted. The core's own reason
 * is passed through when it is a `RealtimeError` (e.g. `connect_timeout`), so
 * the core sees the error it chose.
 */
export function abortedError(signal: AbortSignal): RealtimeError {
  const reason: unknown = signal.reason;
  if (reason instanceof RealtimeError) return reason;
  return new RealtimeError('closed', 'connection attempt aborted', { cause: reason });
}

/** Calls `listener` once when `signal` aborts; returns the function that stops listening. */
export function onAbort(signal: AbortSignal, listener: () => void): () => void {
  signal.addEventListener('abort', listener, { once: true });
  return () => signal.removeEventListener('abort', listener);
}
