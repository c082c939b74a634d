import type { LongPollTransportOptions } from './long-poll';
import type { SseTransportOptions } from './sse';
import type { WebSocketTransportOptions } from './websocket';

// The built-ins' option checks, apart from their code: the public factories
// (builtins.ts) check options when called, loudly, and load the transport's
// code only on its first connect. (Not util/validate.ts: the transports'
// chunks would then share it with the core, one more chunk to download.)

/** Throws a `RangeError` naming `field` and showing `value` unless `ok`. */
function check(ok: boolean, field: string, expected: string, value: unknown): void {
  if (ok) return;
  let shown: string;
  try {
    shown = typeof value === 'string' ? JSON.stringify(value) : String(value);
  } catch {
    // An object without a prototype has no toString: still a RangeError, not a TypeError.
    shown = Object.prototype.toString.call(value);
  }
  throw new RangeError(`${field} must be ${expected}, got ${shown}`);
}

/** `value`, when given, must be a function (`expected` says what kind). */
function checkOptionalFunction(field: string, value: unknown, expected = 'a function'): void {
  check(value === undefined || typeof value === 'function', field, expected, value);
}

export function validateWebSocketOptions(options: WebSocketTransportOptions): void {
  checkOptionalFunction('WebSocket', options.WebSocket, 'a constructor');
  const path = options.path;
  check(
    path === undefined || (typeof path === 'string' && /^\/?[^?#]+$/.test(path)),
    'path',
    'a URL path without query or fragment',
    path,
  );
}

export function validateSseOptions(options: SseTransportOptions): void {
  checkOptionalFunction('fetch', options.fetch);
  const max = options.maxFrameChars;
  check(
    max === undefined || (Number.isSafeInteger(max) && max >= 1),
    'maxFrameChars',
    'a positive integer',
    max,
  );
  checkOptionalFunction('now', options.now);
}

export function validateLongPollOptions(options: LongPollTransportOptions): void {
  checkOptionalFunction('fetch', options.fetch);
  const wait = options.waitSeconds;
  check(
    wait === undefined || (Number.isInteger(wait) && wait >= 0 && wait <= 3600),
    'waitSeconds',
    'an integer from 0 to 3600',
    wait,
  );
  checkOptionalFunction('now', options.now);
}
