import type { WallClock } from '../clock';
import { RealtimeError, type RealtimeErrorCode } from '../errors';

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
  const at = Date.parse(value);
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

interface ErrorBody {
  retryAfterMs?: number;
  message?: string;
}

function readErrorBody(text: string): ErrorBody {
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== 'object' || value === null) return {};
    const { retryAfterMs, message } = value as Record<string, unknown>;
    const body: ErrorBody = {};
    if (typeof retryAfterMs === 'number' && Number.isFinite(retryAfterMs) && retryAfterMs >= 0) {
      body.retryAfterMs = retryAfterMs;
    }
    if (typeof message === 'string') body.message = message.slice(0, 200);
    return body;
  } catch {
    return {};
  }
}

/**
 * Maps a response that is not the success the transport waited for to a
 * `RealtimeError` with its `status`: 401 `unauthorized`, 403 `forbidden`,
 * 429/503 `overloaded` (with `retryAfterMs` from a JSON body's `retryAfterMs`,
 * else from `Retry-After`), 400 `bad_request`, other 5xx `server_error`,
 * anything else `transport_unavailable`. Consumes or cancels the body so the
 * connection is freed. Never rejects.
 */
export async function errorFromResponse(
  response: ErrorResponseLike,
  now: WallClock = Date.now,
): Promise<RealtimeError> {
  const status = response.status;
  const code = codeForStatus(status);
  let body: ErrorBody = {};
  if (code === 'overloaded' || code === 'unauthorized' || code === 'forbidden' || code === 'bad_request') {
    try {
      body = readErrorBody(await response.text());
    } catch {
      // An unreadable body leaves the status as the whole answer.
    }
  } else {
    response.body?.cancel().catch(() => {});
  }
  let retryAfterMs: number | undefined;
  if (code === 'overloaded')
    retryAfterMs = body.retryAfterMs ?? parseRetryAfter(response.headers.get('retry-after'), now());
  const detail = body.message === undefined ? '' : `: ${body.message}`;
  return new RealtimeError(code, `server answered HTTP ${status}${detail}`, { status, retryAfterMs });
}

/** The error for a 2xx answer whose content type is not the one the transport speaks. */
export function unexpectedContentType(response: ErrorResponseLike, expected: string): RealtimeError {
  response.body?.cancel().catch(() => {});
  const got = response.headers.get('content-type') ?? 'none';
  return new RealtimeError('transport_unavailable', `expected ${expected}, got content type ${got}`, {
    status: response.status,
  });
}

/** True when the response's content type is `mediaType` (parameters such as `charset` ignored). */
export function hasContentType(response: ErrorResponseLike, mediaType: string): boolean {
  const value = response.headers.get('content-type');
  if (value === null) return false;
  const semicolon = value.indexOf(';');
  const type = (semicolon === -1 ? value : value.slice(0, semicolon)).trim().toLowerCase();
  return type === mediaType;
}
