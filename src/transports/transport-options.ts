import { describeValue } from '../util/validate';
import type { LongPollTransportOptions } from './long-poll';
import type { SseTransportOptions } from './sse';
import type { WebSocketTransportOptions } from './websocket';

// The built-ins' option checks, apart from their code: the public factories
// (builtins.ts) check options when called, loudly, and load the transport's
// code only on its first connect; the transports' own modules trust them.
// Only the core imports this module, so it may use util/validate.ts: the
// transports' chunks do not share it.

/** Throws a `RangeError` naming `field` and showing `value` unless it was left out or is `ok`. */
function check(field: string, value: unknown, ok: boolean, expected: string): void {
  if (value !== undefined && !ok)
    throw new RangeError(`${field} must be ${expected}, got ${describeValue(value)}`);
}

/** `value`, when given, must be a function (`expected` says what kind). */
function checkFunction(field: string, value: unknown, expected = 'a function'): void {
  check(field, value, typeof value === 'function', expected);
}

export function validateWebSocketOptions(options: WebSocketTransportOptions): void {
  checkFunction('WebSocket', options.WebSocket, 'a constructor');
  const path = options.path;
  check(
    'path',
    path,
    typeof path === 'string' && /^\/?[^?#]+$/.test(path),
    'a URL path without query or fragment',
  );
}

/** The HTTP transports' options: `fetch`, their own number `field`, then `now`. */
function checkHttpOptions<O extends { fetch?: typeof fetch; now?: unknown }>(
  options: O,
  field: keyof O & string,
  ok: (value: number) => boolean,
  expected: string,
): void {
  checkFunction('fetch', options.fetch);
  const value = options[field] as number;
  check(field, value, ok(value), expected);
  checkFunction('now', options.now);
}

export function validateSseOptions(options: SseTransportOptions): void {
  checkHttpOptions(
    options,
    'maxFrameChars',
    (max) => Number.isSafeInteger(max) && max >= 1,
    'a positive integer',
  );
}

export function validateLongPollOptions(options: LongPollTransportOptions): void {
  checkHttpOptions(
    options,
    'waitSeconds',
    (wait) => Number.isInteger(wait) && wait >= 0 && wait <= 3600,
    'an integer from 0 to 3600',
  );
  // Its first use is in the poll loop, where a throw would end the polls in silence.
  const { clock } = options;
  check(
    'clock',
    clock,
    typeof clock?.now === 'function' &&
      typeof clock.setTimeout === 'function' &&
      typeof clock.clearTimeout === 'function',
    'a Clock { now, setTimeout, clearTimeout }',
  );
  // `fetch` and `now` again, harmlessly: `maxFrameChars` is checked as SSE's.
  validateSseOptions(options);
}
