import type { WallClock } from '../clock';
import type { RealtimeError, RealtimeErrorCode } from '../errors';
import { parseRetryAfter } from './http-errors';
import type { TransportKit } from './kit';

// What the HTTP transports (SSE, long-poll, and their `POST /update-services`)
// share: finding `fetch`, sending a request with the token, reading an
// answer's status and content type, and turning an answer that is not the
// awaited success into a `RealtimeError`. Kept apart from http-errors.ts,
// which the SLI reporter and the flags poller load too, so that they never
// pull in any of this. Loaded only with a transport: the core's error class
// and helpers come in `kit` (see kit.ts).

/** The parts of a fetch `Response` the mapping reads. */
export interface ErrorResponseLike {
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  readonly body?: { cancel(reason?: unknown): Promise<void> } | null;
  text(): Promise<string>;
}

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

/**
 * `url` as an error message shows it: origin and path only. The query may
 * hold a token (a backend that wants one in `url`), and so may credentials
 * (which `fetch` refuses: that failure's message shows the URL too).
 */
function shownUrl(url: string): string {
  const { origin, pathname } = new URL(url);
  return origin + pathname;
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
      : kit.unavailable(`${what} failed: no answer from the server at ${shownUrl(url)}`, { cause: error });
  }
}

/**
 * The error code an HTTP status stands for, as PROTOCOL.md assigns them: a
 * refusal's (`refusals`, the core's `REFUSALS` from the kit), 503 as 429.
 */
export function codeForStatus(status: number, refusals: ReadonlyMap<string, number>): RealtimeErrorCode {
  if (status === 503) return 'overloaded';
  for (const [code, refusal] of refusals) if (status === refusal) return code as RealtimeErrorCode;
  // 404, 405 and the rest: whatever answered is not a tabwire endpoint for
  // this transport, so the next transport may fare better.
  return status >= 500 && status <= 599 ? 'server_error' : 'transport_unavailable';
}

/**
 * Maps a response that is not the success the transport waited for to a
 * `RealtimeError` with its `status`: 401 `unauthorized`, 403 `forbidden`,
 * 429/503 `overloaded` (with `retryAfterMs` from a JSON body's `retryAfterMs`,
 * else from `Retry-After`), 400 `bad_request`, other 5xx `server_error`,
 * anything else `transport_unavailable`. The message names `url`, the URL
 * asked (see {@link shownUrl}). Consumes or cancels the body so the
 * connection is freed. Never rejects.
 */
export async function errorFromResponse(
  response: ErrorResponseLike,
  { now, kit }: Pick<HttpDeps, 'now' | 'kit'>,
  url: string,
): Promise<RealtimeError> {
  const { status } = response;
  const code = codeForStatus(status, kit.refusals);
  // The fields of a JSON body, checked one by one below.
  let body: { retryAfterMs?: unknown; message?: unknown } = {};
  if (code === 'server_error' || code === 'transport_unavailable') {
    response.body?.cancel().catch(() => {});
  } else {
    // A refusal (401, 403, 429/503, 400) may explain itself in a JSON body;
    // anything else is not read.
    try {
      // `?? {}` for a body of `null`; any other JSON value has properties to read.
      body = JSON.parse(await response.text()) ?? {};
    } catch {
      // An unreadable body, or one that is not JSON, leaves the status as the whole answer.
    }
  }
  const { retryAfterMs: bodyRetryAfterMs, message } = body;
  let retryAfterMs: number | undefined;
  if (code === 'overloaded') {
    retryAfterMs =
      typeof bodyRetryAfterMs === 'number' && Number.isFinite(bodyRetryAfterMs) && bodyRetryAfterMs >= 0
        ? bodyRetryAfterMs
        : parseRetryAfter(response.headers.get('retry-after'), now());
  }
  const detail = typeof message === 'string' ? `: ${message.slice(0, 200)}` : '';
  // A 404 is most often a `url` that names an endpoint, or lacks the base
  // path: a mistake made while developing, so the hint is the default build's.
  const hint =
    process.env.NODE_ENV !== 'production' && status === 404
      ? "; is url the protocol's base path (e.g. …/v2/realtime)?"
      : '';
  return new kit.RealtimeError(code, `server answered HTTP ${status} for ${shownUrl(url)}${hint}${detail}`, {
    status,
    retryAfterMs,
  });
}
