import type { WallClock } from '../clock';
import { RealtimeError } from '../errors';
import { abortedError, unavailable } from './failures';
import { codeForStatus, type ErrorResponseLike, parseRetryAfter } from './http-errors';

// What the HTTP transports (SSE, long-poll, and their `POST /update-services`)
// share: finding `fetch`, sending a request with the token, and turning an
// answer that is not the awaited success into a `RealtimeError`. Kept apart
// from http-errors.ts, which the SLI reporter and the flags poller load too,
// so that they never pull in the error class.

/** The platform pieces of an HTTP transport. */
export interface HttpDeps {
  fetch: typeof fetch;
  /** Wall clock for `Retry-After` dates. */
  now: WallClock;
}

/**
 * The options' `fetch` and clock, else the globals (looked up at connect
 * time). Throws `transport_unavailable` where there is no `fetch` at all.
 */
export function httpDeps(options: { fetch?: typeof fetch; now?: WallClock }): HttpDeps {
  const doFetch = options.fetch ?? globalThis.fetch;
  if (typeof doFetch !== 'function') throw unavailable('no fetch in this environment');
  return { fetch: doFetch, now: options.now ?? Date.now };
}

/**
 * The rejection of a request that got no HTTP answer. A network failure says
 * nothing about the server, so the fallback chain may try the next transport.
 */
function networkError(cause: unknown, what: string): RealtimeError {
  return unavailable(`${what} failed: no answer from the server`, { cause });
}

/** One request: `headers` get the token as `Authorization: Bearer …`. */
export interface HttpRequest {
  headers: Record<string, string>;
  signal: AbortSignal;
  method?: string;
  body?: string;
}

/**
 * Sends `request`, never answered from the cache, and resolves with the
 * answer whatever its status. Rejects with {@link abortedError} when
 * `request.signal` aborted it, else with {@link networkError} (`what failed:
 * no answer from the server`).
 */
export async function send(
  doFetch: typeof fetch,
  url: string,
  token: string | undefined,
  request: HttpRequest,
  what: string,
): Promise<Response> {
  if (token !== undefined) request.headers.Authorization = `Bearer ${token}`;
  try {
    return await doFetch(url, { ...request, cache: 'no-store' });
  } catch (error) {
    throw request.signal.aborted ? abortedError(request.signal) : networkError(error, what);
  }
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
  // A refusal (401, 403, 429/503, 400) may explain itself in a JSON body;
  // anything else is not read.
  if (code !== 'server_error' && code !== 'transport_unavailable') {
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
  return unavailable(`expected ${expected}, got content type ${got}`, { status: response.status });
}
