import type { WallClock } from '../clock';
import type { RealtimeError } from '../errors';
import { codeForStatus, type ErrorResponseLike, parseRetryAfter } from './http-errors';
import type { TransportKit } from './kit';

// What the HTTP transports (SSE, long-poll, and their `POST /update-services`)
// share: finding `fetch`, sending a request with the token, and turning an
// answer that is not the awaited success into a `RealtimeError`. Kept apart
// from http-errors.ts, which the SLI reporter and the flags poller load too,
// so that they never pull in the error class. Loaded only with a transport:
// the core's error class and helpers come in `kit` (see kit.ts).

/** The platform pieces of an HTTP transport, and the core's kit. */
export interface HttpDeps {
  fetch: typeof fetch;
  /** Wall clock for `Retry-After` dates. */
  now: WallClock;
  kit: TransportKit;
}

/**
 * The options' `fetch` and clock, else the globals (looked up at connect
 * time). Throws `transport_unavailable` where there is no `fetch` at all.
 */
export function httpDeps(options: { fetch?: typeof fetch; now?: WallClock }, kit: TransportKit): HttpDeps {
  const doFetch = options.fetch ?? globalThis.fetch;
  if (typeof doFetch !== 'function') throw kit.unavailable('no fetch in this environment');
  return { fetch: doFetch, now: options.now ?? Date.now, kit };
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
 * answer whatever its status. Rejects with the kit's `abortedError` when
 * `request.signal` aborted it, else with `transport_unavailable` (`what
 * failed: no answer from the server`): a network failure says nothing about
 * the server, so the fallback chain may try the next transport.
 */
export async function send(
  { fetch: doFetch, kit }: HttpDeps,
  url: string,
  token: string | undefined,
  request: HttpRequest,
  what: string,
): Promise<Response> {
  if (token !== undefined) request.headers.Authorization = `Bearer ${token}`;
  try {
    return await doFetch(url, { ...request, cache: 'no-store' });
  } catch (error) {
    throw request.signal.aborted
      ? kit.abortedError(request.signal)
      : kit.unavailable(`${what} failed: no answer from the server`, { cause: error });
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
  { now, kit }: Pick<HttpDeps, 'now' | 'kit'>,
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
  return new kit.RealtimeError(code, `server answered HTTP ${status}${detail}`, { status, retryAfterMs });
}

/** The error for a 2xx answer whose content type is not the one the transport speaks. */
export function unexpectedContentType(
  response: ErrorResponseLike,
  expected: string,
  kit: TransportKit,
): RealtimeError {
  response.body?.cancel().catch(() => {});
  const got = response.headers.get('content-type') ?? 'none';
  return kit.unavailable(`expected ${expected}, got content type ${got}`, { status: response.status });
}
