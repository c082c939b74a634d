import { type Clock, systemClock } from '../clock';
import { encodeCursor } from '../protocol/cursor';
import type { Cursor, ErrorFrame, ServerFrame } from '../protocol/schemas';
import type { QuarantineMonitor } from './quarantine';
import type { DevConnectionInfo } from './types';

/** The three transports of PROTOCOL.md. */
export type TransportName = 'websocket' | 'sse' | 'long-poll';

/** WebSocket close codes the dev server uses (4000 + the HTTP status it mirrors). */
export const CLOSE_CODES = {
  unauthorized: 4401,
  forbidden: 4403,
  overloaded: 4429,
  badRequest: 4400,
  helloTimeout: 4408,
  /** The server failed handling the client's frame (the WebSocket standard's "internal error"). */
  serverError: 1011,
} as const;

/** How one connection's frames reach the wire: one implementation per transport. */
export interface FrameChannel {
  /** Writes one frame; `sseId` is the SSE `id:` line of a batch. */
  writeFrame(frame: ServerFrame, json: string, sseId?: string): void;
  /** Writes text as a frame as it is (malformed-frame tests). */
  writeRaw(text: string): void;
  /** Bytes written but not yet handed to the network (slow-consumer detection). */
  queuedBytes(): number;
  /** Sends the `error` frame and ends the connection the transport's way. */
  closeWithError(frame: ErrorFrame, closeCode: number): void;
  /** Ends the connection abruptly, as a network cut would: no close frame. */
  destroy(): void;
  /** The connection is forgotten: release timers the channel holds. */
  dispose?(): void;
  /** Long-poll only: a poll of this connection is waiting at the server right now. */
  readonly pollWaiting?: boolean;
}

/** Who opened a connection and what it asked for. */
export interface ConnectionInit {
  id: string;
  transport: TransportName;
  orgId: string;
  userId: string;
  token: string | undefined;
  origin: string | undefined;
  services: string[];
  propertyIds: string[] | null;
  openedAt: number;
}

/**
 * One client connection as the server tracks it: subscription, the cursor it
 * was sent up to per service, heartbeat and quarantine. Transport-specific
 * writing lives in its {@link FrameChannel}.
 */
export class Connection {
  readonly id: string;
  readonly transport: TransportName;
  readonly orgId: string;
  readonly userId: string;
  readonly origin: string | undefined;
  readonly openedAt: number;
  token: string | undefined;
  propertyIds: string[] | null;
  /** Per service, the last seq this connection was sent (its `cursor`). */
  readonly cursor = new Map<string, number>();
  quarantine: QuarantineMonitor | undefined;
  closed = false;
  private serviceList: string[] = [];
  // A client may subscribe to tens of thousands of services (an update body
  // may be 1 MiB): membership is asked per service of every update and per
  // flush, so it is a set lookup, not a scan of the list.
  private serviceSet = new Set<string>();
  private lastSentAt: number;
  private heartbeatTimer: unknown;
  private tokenTimer: unknown;

  constructor(
    init: ConnectionInit,
    readonly channel: FrameChannel,
    private readonly clock: Clock = systemClock,
  ) {
    this.id = init.id;
    this.transport = init.transport;
    this.orgId = init.orgId;
    this.userId = init.userId;
    this.token = init.token;
    this.origin = init.origin;
    this.services = init.services;
    this.propertyIds = init.propertyIds;
    this.openedAt = init.openedAt;
    this.lastSentAt = clock.now();
  }

  /** The subscribed services, in the order the client gave them. */
  get services(): string[] {
    return this.serviceList;
  }

  set services(next: string[]) {
    this.serviceList = next;
    this.serviceSet = new Set(next);
  }

  /** Frames are pushed (WebSocket, SSE) rather than fetched by polls. */
  get pushes(): boolean {
    return this.transport !== 'long-poll';
  }

  isSubscribed(service: string): boolean {
    return this.serviceSet.has(service);
  }

  /** The cursor as a plain object (for SSE ids and `connections()`). */
  cursorObject(): Cursor {
    return Object.fromEntries(this.cursor);
  }

  /** Moves the cursor to what a batch or reset frame says the client now holds. */
  accountFor(frame: ServerFrame): void {
    if (frame.type !== 'batch' && frame.type !== 'reset') return;
    for (const [service, seq] of Object.entries(frame.cursor)) {
      if (this.isSubscribed(service)) this.cursor.set(service, seq);
    }
  }

  /** Sends one frame now, keeping the cursor, heartbeat and quarantine up to date. */
  send(frame: ServerFrame): void {
    if (this.closed) return;
    this.accountFor(frame);
    // Resets move the cursor too, so they carry an id as batches do: an
    // EventSource that reconnects then resends the cursor after the reset.
    const sseId =
      frame.type === 'batch' || frame.type === 'reset' ? encodeCursor(this.cursorObject()) : undefined;
    this.channel.writeFrame(frame, JSON.stringify(frame), sseId);
    this.noteSent();
  }

  sendRaw(text: string): void {
    if (this.closed) return;
    this.channel.writeRaw(text);
    this.noteSent();
  }

  /** Sends `heartbeat` whenever nothing else went out for `heartbeatMs`. */
  startHeartbeat(heartbeatMs: number, wallClock: () => number): void {
    const tick = (): void => {
      this.heartbeatTimer = undefined;
      if (this.closed) return;
      const idle = this.clock.now() - this.lastSentAt;
      if (idle >= heartbeatMs) this.send({ type: 'heartbeat', serverTime: wallClock() });
      const wait = heartbeatMs - (this.clock.now() - this.lastSentAt);
      this.heartbeatTimer = this.clock.setTimeout(tick, Math.max(1, wait));
    };
    this.heartbeatTimer = this.clock.setTimeout(tick, heartbeatMs);
  }

  /** Runs `onExpire` when the token's expiry time passes (replaces an earlier one). */
  watchTokenExpiry(delayMs: number | undefined, onExpire: () => void): void {
    if (this.tokenTimer !== undefined) this.clock.clearTimeout(this.tokenTimer);
    this.tokenTimer = undefined;
    if (delayMs === undefined) return;
    // Timers above 2^31-1 ms fire at once in Node; such a token outlives any dev session.
    if (delayMs > 2 ** 31 - 1) return;
    this.tokenTimer = this.clock.setTimeout(onExpire, Math.max(0, delayMs));
  }

  /** Stops timers; ending the channel itself is the caller's job. */
  dispose(): void {
    if (this.closed) return;
    this.closed = true;
    this.channel.dispose?.();
    if (this.heartbeatTimer !== undefined) this.clock.clearTimeout(this.heartbeatTimer);
    if (this.tokenTimer !== undefined) this.clock.clearTimeout(this.tokenTimer);
    this.heartbeatTimer = undefined;
    this.tokenTimer = undefined;
    this.quarantine?.dispose();
  }

  info(): DevConnectionInfo {
    const info: DevConnectionInfo = {
      connectionId: this.id,
      transport: this.transport,
      orgId: this.orgId,
      userId: this.userId,
      services: [...this.services],
      propertyIds: this.propertyIds === null ? null : [...this.propertyIds],
      cursor: this.cursorObject(),
      quarantined: this.quarantine?.quarantined ?? false,
      openedAt: this.openedAt,
    };
    if (this.origin !== undefined) info.origin = this.origin;
    if (this.channel.pollWaiting !== undefined) info.pollWaiting = this.channel.pollWaiting;
    return info;
  }

  private noteSent(): void {
    this.lastSentAt = this.clock.now();
    this.quarantine?.afterSend();
  }
}
