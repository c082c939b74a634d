import type { WallClock } from '../clock';
import type { Cursor, RealtimeEvent } from '../protocol/schemas';

/** Who a token belongs to. */
export interface TokenIdentity {
  orgId: string;
  userId: string;
}

/**
 * Decides what a bearer token may do. Return the identity, `'unauthorized'`
 * (→ 401 / `error unauthorized`) or `'forbidden'` (→ 403 / `error forbidden`).
 */
export type TokenVerifier = (token: string | undefined) => TokenIdentity | 'unauthorized' | 'forbidden';

/** Options of {@link startDevServer}. Every field is optional; a key that is none of these is refused. */
export interface DevServerOptions {
  /** Port to listen on (on `host`); `0` (default) picks a free one. */
  port?: number;
  /**
   * Interface to listen on; default `127.0.0.1` (loopback: only this machine
   * can connect). Any other host (`'0.0.0.0'`, `'::'`, a LAN address) is an
   * explicit opt-in that exposes the server, and its dev tokens, to the
   * network: anyone who can reach it connects as any user of any org with a
   * `dev:<orgId>:<userId>` token (unless `verifyToken` says otherwise), and
   * gets tokens from `POST /dev/token` and publishes with `POST /dev/publish`
   * without any. Only on a network you trust (a container whose port you map
   * to your machine's loopback), never a shared or public one.
   */
  host?: string;
  /** Path prefix of the PROTOCOL.md endpoints; default `/v2/realtime`. */
  basePath?: string;
  /** Idle heartbeat interval sent in `welcome`; default 15000. */
  heartbeatMs?: number;
  /** How long a WebSocket may stay open without its `hello` frame; default 10000. */
  helloTimeoutMs?: number;
  /** Events kept per (org, service) for replay; default 1000. Older cursors get `reset`. */
  replayBufferSize?: number;
  /** Adaptive batch window bounds in ms; default `{ min: 30, max: 150 }`. */
  batchWindowMs?: { min: number; max: number };
  /** Events per batch frame at most; default 500. */
  maxBatchSize?: number;
  /** Custom token check; default accepts `issueToken()` tokens and `dev:<orgId>:<userId>`. */
  verifyToken?: TokenVerifier;
  /** Live connections allowed in total (default 10000) and per `Origin` (default 1000). */
  maxConnections?: number;
  maxConnectionsPerOrigin?: number;
  /** `retryAfterMs` sent with `overloaded`; default 2000. */
  overloadedRetryAfterMs?: number;
  /** Long-poll: default `wait` in seconds (25) and how long an unpolled connection lives (60000 ms). */
  pollWaitSeconds?: number;
  pollIdleTimeoutMs?: number;
  /**
   * Slow-consumer quarantine: a connection whose send queue keeps
   * overflowing has its low-tier services' frames held back for a while (and
   * a `reset` for them after), so its critical services still get through.
   */
  quarantine?: {
    /** Bytes queued on one connection that count as an overflow; default 1 MiB. */
    queueLimitBytes?: number;
    /**
     * Bytes queued on one connection above which it is dropped, as a network cut would
     * (no close frame): a consumer that stopped reading for good would otherwise have
     * every frame of its critical services queued for it, without end. The client
     * reconnects with its cursor and is replayed. Default 64 MiB, and at least 16 ×
     * `queueLimitBytes`; it may not be below `queueLimitBytes` (nor 1).
     */
    dropQueueBytes?: number;
    /** Overflows within `windowMs` that quarantine a connection; default 3 in 10000 ms. */
    overflowsToQuarantine?: number;
    windowMs?: number;
    /** How long low-tier services are shed; default 30000. */
    durationMs?: number;
    /** Services shed first; default `['analytics', 'dashboard']`. */
    lowTierServices?: string[];
    /**
     * A quarantine ends early once the queue has stayed below a quarter of
     * `queueLimitBytes` for this long; default 5000.
     */
    healthyMs?: number;
  };
  /** Directories served as static files: URL prefix → directory. */
  static?: Record<string, string>;
  /** Log lines go here; default silent. */
  log?: (line: string) => void;
  /**
   * Wall clock for event `ts`, `serverTime` and token expiry; default
   * `Date.now`. Timers still run on real time: sockets do.
   */
  wallClock?: WallClock;
}

/** What `publish` takes: the server fills in `seq`, `ts`, `orgId` and, if absent, `eventId`. */
export interface PublishInput {
  service: string;
  entityType: string;
  type: string;
  eventId?: string;
  propertyId?: string | null;
  mutationId?: string;
  data?: unknown;
  /** Override of the server's time of the change (tests of delivery latency). */
  ts?: number;
}

/** One live (or, for long-poll, recently polled) connection as the server sees it. */
export interface DevConnectionInfo {
  connectionId: string;
  transport: 'websocket' | 'sse' | 'long-poll';
  orgId: string;
  userId: string;
  origin?: string;
  services: string[];
  propertyIds: string[] | null;
  /** Per service, the last seq sent on this connection. */
  cursor: Cursor;
  quarantined: boolean;
  openedAt: number;
  /** Long-poll only: a poll of this connection is waiting at the server now. */
  pollWaiting?: boolean;
}

/** `GET /metrics` and `server.metrics()`. */
export interface DevServerMetrics {
  activeConnections: number;
  connectionsByTransport: Record<string, number>;
  /** Connections ever welcomed since start (a reconnect counts again). */
  totalConnections: number;
  totalSubscribers: number;
  subscribersByService: Record<string, number>;
  requestsTotal: number;
  publishedTotal: number;
  /** Long-poll requests waiting right now. */
  pollWaiters: number;
  quarantinedConnections: number;
  /** Per service, the widest current batch window over all orgs. */
  currentBatchWindowMsByService: Record<string, number>;
  /** The same per org: `{ [orgId]: { [service]: ms } }`. */
  batchWindowMsByOrg: Record<string, Record<string, number>>;
  /** WebSocket client frames that were not valid (bad JSON, binary, wrong shape), ignored. */
  invalidClientFrames: number;
  /** Connections refused as `overloaded` (quota). */
  overloadedRejections: number;
  /** Times a connection was quarantined as a slow consumer. */
  quarantinesTotal: number;
  /** Connections dropped because their queue passed `quarantine.dropQueueBytes`. */
  slowConsumerDrops: number;
  /** Bumped by `restart({ wipe: true })`: seqs restarted at 1. */
  epoch: number;
  /** The stream start that replayed from a client's cursor most recently. */
  lastCatchUp?: { connectionId: string; eventCount: number; durationMs: number; completedAt: string };
}

/** Fault hooks for tests and chaos runs. */
export interface DevServerFaults {
  /** Delay every frame and HTTP answer by `ms` (0 = off). */
  delay(ms: number): void;
  /**
   * Drop every live connection abruptly (no close frame), as a network cut would: WebSocket
   * sockets and SSE responses are destroyed, waiting long-polls too (their connection stays
   * known, so the next poll with its `connectionId` carries on).
   */
  dropConnections(): void;
  /**
   * Make every token issued so far (by `issueToken` or `POST /dev/token`) expired: live
   * connections holding one get `error unauthorized` (WebSocket close 4401), waiting polls 401.
   * Static `dev:<orgId>:<userId>` tokens have no expiry and are not affected.
   */
  expireTokens(): void;
  /** Revoke a user's access: live connections get `error forbidden` (WebSocket close 4403), later requests 403. */
  revokeUser(orgId: string, userId: string): void;
  /** Refuse WebSocket upgrades (as a proxy that does not pass them would). */
  refuseWebSocket(refuse: boolean): void;
  /**
   * Accept WebSocket upgrades and then send nothing, nor read anything (as a proxy that passes
   * the upgrade and then holds every frame would): the client never gets its `welcome`.
   */
  silenceWebSocket(silent: boolean): void;
  /** Send raw text as a frame to every live connection of an org (malformed-frame tests). */
  sendRaw(orgId: string, text: string): void;
}

/**
 * A running dev server.
 *
 * WebSocket close codes it uses: 4401 unauthorized, 4403 forbidden, 4429 overloaded (each after
 * the matching `error` frame), 4408 no `hello` within `helloTimeoutMs`, 1011 after `error server_error`
 * when the `hello` could not be handled (a `verifyToken` that throws). HTTP errors are JSON
 * `{ type: 'error', code, message, retryAfterMs? }`: 400 bad input, 401, 403, 404 unknown
 * connection (`not_found`), 413 body too large, 429 with `Retry-After` (seconds).
 */
export interface DevServer {
  /** `http://127.0.0.1:<port>` */
  readonly origin: string;
  /** `origin + basePath`: what `createRealtime({ url })` takes. */
  readonly url: string;
  readonly port: number;
  /** Publishes an event to an org; returns it as stored (with seq). */
  publish(orgId: string, event: PublishInput): RealtimeEvent;
  /** Issues a dev token; `ttlMs` makes it expire. */
  issueToken(
    orgId: string,
    userId: string,
    options?: { ttlMs?: number },
  ): { token: string; expiresAt?: number };
  connections(): DevConnectionInfo[];
  metrics(): DevServerMetrics;
  /** Telemetry reports received at `POST /telemetry/client`, newest last (the newest 1000). */
  readonly telemetry: unknown[];
  readonly faults: DevServerFaults;
  /** Closes the listener and every connection; events and seqs are kept. */
  stop(): Promise<void>;
  /** Listens again on the same port after `stop()`. */
  start(): Promise<void>;
  /** `stop()`, wait `downMs`, `start()`. With `wipe`, seqs restart (a new epoch: old cursors get `reset`). */
  restart(options?: { downMs?: number; wipe?: boolean }): Promise<void>;
  /** Stops for good. */
  close(): Promise<void>;
}
