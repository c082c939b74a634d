import type { RealtimeErrorCode } from '../errors';

// What an HTTP answer says, read without making an error (http-request.ts
// makes them). This module must not import RealtimeError at run time: the
// lazily loaded SLI reporter and flags poller use `parseRetryAfter`, and
// through an import here they (and the HTTP transports) would reach errors.ts
// too, which the core loads: the bundler would then split it out of the core
// into a chunk of its own, one more file for every app to download.

/** The parts of a fetch `Response` the mapping reads. */
export interface ErrorResponseLike {
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  readonly body?: { cancel(reason?: unknown): Promise<void> } | null;
  text(): Promise<string>;
}

const DIGITS = /^\s*(\d+)\s*$/;
// Every HTTP-date form (IMF-fixdate, RFC 850, asctime) starts with a day name;
// requiring it keeps Date.parse's leniency from reading "-3" as a year.
const HTTP_DATE = /^\s*[A-Za-z]{3,9},?\s/;
// asctime (`Sun Nov  6 08:49:37 1994`) is the one form without a zone, and
// Date.parse reads a time without a zone as local time; every HTTP-date is GMT.
const ASCTIME = /^\s*[A-Za-z]{3}\s+[A-Za-z]{3}\s+\d{1,2}\s+\d{1,2}:\d{2}:\d{2}\s+\d{4}\s*$/;

/**
 * Milliseconds from a `Retry-After` header value: delay-seconds or an
 * HTTP-date (relative to `now`, never negative). `undefined` for a missing or
 * unreadable value.
 */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null) return undefined;
  const seconds = DIGITS.exec(value);
  if (seconds !== null) return Number(seconds[1]) * 1000;
  if (!HTTP_DATE.test(value)) return undefined;
  const at = Date.parse(ASCTIME.test(value) ? `${value.trim()} GMT` : value);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

/** The error code an HTTP status stands for, as PROTOCOL.md assigns them. */
export function codeForStatus(status: number): RealtimeErrorCode {
  if (status === 401) return 'unauthorized';
  if (status === 403) return 'forbidden';
  if (status === 429 || status === 503) return 'overloaded';
  if (status === 400) return 'bad_request';
  if (status >= 500 && status <= 599) return 'server_error';
  // 404, 405 and the rest: whatever answered is not a tabwire endpoint for
  // this transport, so the next transport may fare better.
  return 'transport_unavailable';
}

/** True when the response's content type is `mediaType` (parameters such as `charset` ignored). */
export function hasContentType(response: ErrorResponseLike, mediaType: string): boolean {
  const value = response.headers.get('content-type');
  if (value === null) return false;
  const semicolon = value.indexOf(';');
  const type = (semicolon === -1 ? value : value.slice(0, semicolon)).trim().toLowerCase();
  return type === mediaType;
}
