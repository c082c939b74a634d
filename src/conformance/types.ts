/** A transport of PROTOCOL.md the checker can speak, named as `createRealtime`'s `transports` names them. */
export type ConformanceTransport = 'websocket' | 'sse' | 'long-poll';

/**
 * The name of one check (docs/protocol.md, "Check your backend", lists what
 * each one sends and expects):
 *
 * - `welcome`: the connection opens and its first frame is a valid `welcome`
 *   (SSE: `200 text/event-stream`; long-poll: `200 { frames: [welcome, …] }`).
 * - `auth`: a bad token is refused as `unauthorized` (HTTP 401; WebSocket an
 *   `error unauthorized` frame or close 4401), never welcomed.
 * - `heartbeat` (WebSocket, SSE): with nothing published, a `heartbeat` within 2 × `heartbeatMs`
 *   of the welcome (SSE: of the last reconnect's, when the server ended the stream), and the next
 *   within 2 × `heartbeatMs` of it when the check's time limit allows.
 * - `empty-poll` (long-poll): a poll with nothing new ends with `204` once `wait` elapsed.
 * - `events`: published events arrive as `batch` frames, in order, seq +1, `after` and `cursor` right.
 * - `held-poll` (long-poll): a poll the server holds is answered with an event published meanwhile, not with `204` once `wait` is up.
 * - `token-refresh` (WebSocket): `auth { token }` on a live socket keeps it delivering; a bad token
 *   in it is refused as `unauthorized` or kept (PROTOCOL.md leaves that open), never as `forbidden`.
 * - `replay`: a new connection with an older cursor gets exactly the events it missed, each batch in seq order.
 * - `replay-last-event-id` (SSE): the same, with the cursor only in `Last-Event-ID`.
 * - `replay-poll-cursor` (long-poll): a poll of a live connection with an older cursor is answered from there.
 * - `reset`: a new connection with a cursor past the head (seqs the server lost) gets a `reset` for that service,
 *   so that its next event reaches the app instead of being dropped as a duplicate.
 * - `update`: adding a service to a live connection (`POST /update-services`, WebSocket `update` frame) delivers its
 *   events, from its next one, and the service the connection kept goes on delivering.
 */
export type CheckName =
  | 'welcome'
  | 'auth'
  | 'heartbeat'
  | 'empty-poll'
  | 'events'
  | 'held-poll'
  | 'token-refresh'
  | 'replay'
  | 'replay-last-event-id'
  | 'replay-poll-cursor'
  | 'reset'
  | 'update';

/** How a check ended: `skipped` is not a failure (its `detail` says why it did not run). */
export type CheckStatus = 'passed' | 'failed' | 'skipped';

/** The outcome of one check against one transport. */
export interface CheckResult {
  /** The transport the check spoke. */
  transport: ConformanceTransport;
  /** Which check (see {@link CheckName}). */
  name: CheckName;
  /** `false` only when the check failed: a skipped check is `ok`. */
  ok: boolean;
  /** Passed, failed or skipped. */
  status: CheckStatus;
  /**
   * What was checked, or for a failure what was expected and what came
   * back, with the section of PROTOCOL.md or docs/protocol.md it follows.
   */
  detail: string;
  /** How long the check took, in milliseconds. */
  durationMs: number;
}

/** What {@link CheckBackendOptions.getToken} may return. */
export type ConformanceToken = string | undefined;

/** Options of `checkBackend`. */
export interface CheckBackendOptions {
  /** The base URL of the backend, as `createRealtime`'s `url`: e.g. `http://127.0.0.1:8080/v2/realtime`. */
  url: string;
  /**
   * A token of a test user, sent as `Authorization: Bearer …` over HTTP and in
   * `hello` over WebSocket. Leave it and `getToken` out for a backend that
   * needs none (the `auth` and `token-refresh` checks are then skipped).
   */
  token?: string;
  /**
   * A fresh token for each connection the checker opens, and for the `auth`
   * frame of the `token-refresh` check (with `token` alone, that frame sends
   * the same token again); wins over `token`.
   */
  getToken?: () => ConformanceToken | Promise<ConformanceToken>;
  /**
   * Makes the backend emit ONE event of `service` for the test user's org.
   * Resolve once the backend has accepted it (it need not be delivered yet).
   */
  publish: (service: string) => void | Promise<void>;
  /** Services the test user may subscribe to: at least one; the `update` check needs two. */
  services: readonly string[];
  /** The transports to check; default all three. */
  transports?: readonly ConformanceTransport[];
  /** Time limit of each check, in milliseconds; default 10000. */
  timeoutMs?: number;
  /**
   * The long-poll `wait` the checker asks for, in whole seconds (as the client
   * sends it); default 1. The `empty-poll` check is skipped unless it is under `timeoutMs`.
   */
  pollWaitSeconds?: number;
}

/** The result of `checkBackend`. */
export interface ConformanceReport {
  /** `true` when no check failed and at least one passed. */
  ok: boolean;
  /** The base URL checked. */
  url: string;
  /** Every check that ran or was skipped, in the order they ran. */
  checks: CheckResult[];
  /** How long the whole run took, in milliseconds. */
  durationMs: number;
}
