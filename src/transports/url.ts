import { RealtimeError } from '../errors';
import { encodeCursor } from '../protocol/cursor';
import type { Cursor } from '../protocol/schemas';

/** The subscription part of a `/stream` or `/poll` query. */
export interface SubscriptionQuery {
  services: readonly string[];
  /** `null` = every property: the parameter is left out. */
  propertyIds: readonly string[] | null;
  /** Left out when empty. */
  cursor?: Cursor;
}

/** A `/poll` query: the subscription plus the connection and how long to wait. */
export interface PollQuery extends SubscriptionQuery {
  connectionId?: string;
  /** Seconds the server may hold the request open. */
  wait: number;
}

// Each item is encoded on its own and the commas between them are left as they
// are, so the query reads `services=a,b` as PROTOCOL.md writes it.
function list(values: readonly string[]): string {
  return values.map(encodeURIComponent).join(',');
}

/** True when the cursor has at least one service (an empty cursor is left out of requests). */
export function hasKeys(cursor: Cursor | undefined): cursor is Cursor {
  if (cursor === undefined) return false;
  for (const _ in cursor) return true;
  return false;
}

/**
 * Resolves the base URL (relative ones against the page's location, where
 * there is one) and appends `endpoint` to its path, keeping a path prefix such
 * as `/v2/realtime` and any query the base already has. Throws a
 * `RealtimeError` `invalid_options` for a URL that cannot be parsed.
 */
export function endpointUrl(base: string, endpoint: string): URL {
  const location = (globalThis as { location?: { href?: string } }).location?.href;
  let url: URL;
  try {
    url = location === undefined ? new URL(base) : new URL(base, location);
  } catch {
    throw new RealtimeError('invalid_options', `url is not a valid URL: ${JSON.stringify(base)}`);
  }
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/${endpoint.replace(/^\/+/, '')}`;
  url.hash = '';
  return url;
}

function appendQuery(url: URL, query: string): string {
  if (query === '') return url.href;
  url.search = url.search.length > 1 ? `${url.search}&${query}` : `?${query}`;
  return url.href;
}

function subscriptionQuery(query: SubscriptionQuery): string {
  let out = `services=${list(query.services)}`;
  if (query.propertyIds !== null) out += `&propertyIds=${list(query.propertyIds)}`;
  if (hasKeys(query.cursor)) out += `&cursor=${encodeCursor(query.cursor)}`;
  return out;
}

/**
 * `GET /stream` for SSE, or with `websocket: true` the `ws:`/`wss:` URL of the
 * upgrade. `endpoint` replaces `stream` for a backend that serves it elsewhere.
 * Tokens never go in a URL: SSE sends a header, WebSocket a `hello`.
 */
export function streamUrl(
  base: string,
  query: SubscriptionQuery,
  options: { websocket?: boolean; endpoint?: string } = {},
): string {
  const url = endpointUrl(base, options.endpoint ?? 'stream');
  if (options.websocket === true) {
    if (url.protocol === 'http:') url.protocol = 'ws:';
    else if (url.protocol === 'https:') url.protocol = 'wss:';
  }
  return appendQuery(url, subscriptionQuery(query));
}

/** `GET /poll`: `connectionId` (when known) first, then the subscription and `wait`. */
export function pollUrl(base: string, query: PollQuery): string {
  const url = endpointUrl(base, 'poll');
  let out = query.connectionId === undefined ? '' : `connectionId=${encodeURIComponent(query.connectionId)}&`;
  out += `${subscriptionQuery(query)}&wait=${query.wait}`;
  return appendQuery(url, out);
}

/** `POST /update-services`. */
export function updateServicesUrl(base: string): string {
  return endpointUrl(base, 'update-services').href;
}

/**
 * True for an absolute `http:` or `https:` URL: the form of `createRealtime`'s
 * `url` (options.ts). The core using this module too keeps it in the chunk
 * the core and the transports share, not in one more for the transports.
 */
export function isHttpUrl(text: string): boolean {
  if (!/^https?:/i.test(text)) return false;
  try {
    new URL(text);
    return true;
  } catch {
    return false;
  }
}
