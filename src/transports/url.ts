import { encodeCursor } from '../protocol/cursor';
import type { Cursor } from '../protocol/schemas';
import { guarded } from '../util/guarded';

// What the transports share of building their URLs. The core loads this
// module (isHttpUrl), so the transports get these builders through kit.ts,
// never by importing it (a module both import would become a chunk of its
// own): what only one HTTP transport needs (`/poll`, `/update-services`)
// lives with that transport, out of the WebSocket-only app.

/** The subscription part of a `/stream` or `/poll` query. */
export interface SubscriptionQuery {
  services: readonly string[];
  /** `null` = every property: the parameter is left out. */
  propertyIds: readonly string[] | null;
  /** Left out when empty. */
  cursor?: Cursor;
}

// Each item is encoded on its own and the commas between them are left as they
// are, so the query reads `services=a,b` as PROTOCOL.md writes it.
function list(values: readonly string[]): string {
  return values.map(encodeURIComponent).join(',');
}

/** True when the cursor has at least one service (an empty cursor is left out of requests). */
export function hasKeys(cursor: Cursor | undefined): cursor is Cursor {
  // A for-in over `undefined` runs no iteration.
  for (const _ in cursor as object) return true;
  return false;
}

/**
 * The base URL with `endpoint` appended to its path, keeping a path prefix
 * such as `/v2/realtime` and any query the base already has, then `query`.
 * The base is the client's `url` option, which options.ts has already checked
 * to be an absolute http(s) URL: it always parses.
 */
export function endpointUrl(base: string, endpoint: string, query?: string): URL {
  const url = new URL(base);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/${endpoint.replace(/^\/+/, '')}`;
  url.hash = '';
  // `search` is '' for no query; set without '?', it gets one.
  if (query) url.search += `${url.search && '&'}${query}`;
  return url;
}

/** `services=…[&propertyIds=…][&cursor=…]` (the cursor as base64url JSON). */
export function subscriptionQuery(query: SubscriptionQuery): string {
  let out = `services=${list(query.services)}`;
  if (query.propertyIds !== null) out += `&propertyIds=${list(query.propertyIds)}`;
  if (hasKeys(query.cursor)) out += `&cursor=${encodeCursor(query.cursor)}`;
  return out;
}

/**
 * The URL of `GET /stream`: `endpoint` replaces `stream` for a backend that
 * serves it elsewhere. WebSocket turns it into its `ws:`/`wss:` URL itself.
 * Tokens never go in a URL: SSE sends a header, WebSocket a `hello`.
 */
export function streamUrl(base: string, query: SubscriptionQuery, endpoint = 'stream'): string {
  return endpointUrl(base, endpoint, subscriptionQuery(query)).href;
}

/**
 * True for an absolute `http:` or `https:` URL: the form of `createRealtime`'s
 * `url` (options.ts).
 */
export function isHttpUrl(text: string): boolean {
  // `new URL` throws on what is no URL.
  return !!guarded(() => /^https?:/i.test(text) && new URL(text));
}
