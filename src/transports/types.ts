import type { Cursor } from '../protocol/schemas';

/** Why a transport connection ended, as the transport saw it. */
export interface TransportCloseReason {
  /** HTTP status (401, 403, 429, 503, …) or, for WebSocket, the close code. */
  status?: number;
  /** A protocol error code (`unauthorized`, `forbidden`, `overloaded`, …) when known. */
  code?: string;
  /** `Retry-After` / `retryAfterMs` in milliseconds, when the server sent one. */
  retryAfterMs?: number;
  error?: unknown;
}

/** What the core hands a transport for one connection attempt. */
export interface TransportContext {
  /** Base URL of the PROTOCOL.md endpoints, e.g. `https://api.example.com/v2/realtime`. */
  url: string;
  token?: string;
  services: string[];
  /** `null` = every property. */
  propertyIds: string[] | null;
  /** The cursor to resume from, at connect time. */
  cursor: Cursor;
  /**
   * The cursor as it is now. Long-poll asks before every poll so that a gap
   * found by the pipeline is replayed by the very next request; SSE when a
   * refreshed token reopens its stream.
   */
  getCursor?(): Cursor;
  /** Raw JSON text or an already-parsed object; the core validates it. */
  onFrame(frame: string | object): void;
  /** Called at most once, when the connection ends for any reason but `close()`. */
  onClose(reason: TransportCloseReason): void;
  /** Aborted when the core gives up on this attempt or connection. */
  signal: AbortSignal;
}

/** What a transport learned from an in-place update, when it learned anything. */
export interface UpdateResult {
  /**
   * Start cursor of newly added services, from `POST /update-services`.
   * WebSocket gets no answer to `update`, so it has none.
   */
  cursor?: Cursor;
}

/** A live connection of one transport. */
export interface TransportConnection {
  /**
   * Changes services / property filter of the live connection in place.
   * HTTP transports resolve with the server's {@link UpdateResult}; others may
   * resolve with nothing.
   */
  // biome-ignore lint/suspicious/noConfusingVoidType: `void` keeps `async update() {}` a valid implementation.
  update(services: string[], propertyIds: string[] | null): Promise<UpdateResult | void>;
  /** Hands a refreshed token to a live connection. */
  setToken?(token: string): void;
  /**
   * Optional: the core's cursor went back (a gap, or a tab's replay ask) and
   * the server must replay from `ctx.getCursor()` now. Long-poll ends the poll
   * waiting at the server and polls again; without this method the core
   * reconnects, as a stream must. It asks with the property filter of the
   * last `update`, also one still in flight (the core reconnects instead
   * while a further update waits for it).
   */
  replay?(): void;
  /** Closes the connection; `onClose` is not called for a close the core asked for. */
  close(): void;
}

/**
 * A way of moving PROTOCOL.md frames. Everything else (backoff, breaker, auth
 * refresh, dedup, gaps, relay) belongs to the core.
 *
 * `connect` resolves once the underlying channel is open (socket open, stream
 * response 200, first poll answered) and rejects with a `RealtimeError` when it
 * cannot be opened: `transport_unavailable` tells the fallback chain to try the
 * next transport; `unauthorized`/`forbidden`/`overloaded` carry the server's
 * answer.
 */
export interface Transport {
  readonly name: string;
  connect(ctx: TransportContext): Promise<TransportConnection>;
  /**
   * Optional: start getting ready for `connect` (the built-ins load their
   * code). The core calls it on the transport it will try first when the
   * client becomes active, so the download overlaps the election, and again
   * before each `connect`. A promise it returns is awaited before `connect`,
   * whose round trip to the welcome is then timed without the download (it
   * estimates the server's clock); its rejection counts as a failed
   * `connect` of this transport.
   */
  preload?(): unknown;
}
