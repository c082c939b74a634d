import { randomBytes } from 'node:crypto';
import { type Clock, systemClock } from '../clock';
import type { Cursor, ErrorFrame, RealtimeEvent, ServerFrame, WelcomeFrame } from '../protocol/schemas';
import { type AuthResult, TokenStore } from './auth';
import { AdaptiveBatcher } from './batcher';
import { catchUpService, cursorAdvanceAt, filteredOut, matchesPropertyFilter, replayable } from './catch-up';
import { CLOSE_CODES, Connection, type FrameChannel, type TransportName } from './connection';
import { ConnectionRegistry } from './connection-registry';
import { EventLog } from './event-log';
import { MetricsCounters, summariseBatchWindows, summariseSubscriptions } from './metrics';
import type { ResolvedDevServerOptions } from './options';
import { validatePublishInput } from './publish-input';
import { QuarantineMonitor } from './quarantine';
import type { DevServerMetrics, PublishInput, TokenIdentity } from './types';

/** Error codes the server ends a connection with. */
export type RefusalCode = 'unauthorized' | 'forbidden' | 'overloaded' | 'bad_request';

const CLOSE_CODE_OF: Record<RefusalCode, number> = {
  unauthorized: CLOSE_CODES.unauthorized,
  forbidden: CLOSE_CODES.forbidden,
  overloaded: CLOSE_CODES.overloaded,
  bad_request: CLOSE_CODES.badRequest,
};

/** What a transport knows when a client starts a stream. */
export interface OpenRequest {
  transport: TransportName;
  identity: TokenIdentity;
  token: string | undefined;
  tokenExpiresAt: number | undefined;
  origin: string | undefined;
  services: string[];
  propertyIds: string[] | null;
  /** The client's cursor, when it sent one. */
  clientCursor: Cursor | undefined;
  channel: FrameChannel;
}

function ownSeq(cursor: Cursor | undefined, service: string): number | undefined {
  return cursor !== undefined && Object.hasOwn(cursor, service) ? cursor[service] : undefined;
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}

/**
 * The transport-independent core of the dev server: the event log, the
 * adaptive batchers, the live connections and what happens to them (stream
 * start with replay, live fan-out, subscription changes, auth changes). The
 * WebSocket, SSE and long-poll modules only translate between this and
 * their wire.
 */
export class RealtimeHub {
  readonly log: EventLog;
  readonly tokens: TokenStore;
  readonly registry = new ConnectionRegistry();
  readonly counters = new MetricsCounters();
  /** Reports of `POST /telemetry/client`, newest last. */
  readonly telemetry: unknown[] = [];
  /** `faults.delay`: every outgoing frame and HTTP answer waits this long. */
  delayMs = 0;
  /** `faults.refuseWebSocket`. */
  refuseWebSocket = false;
  /** `faults.silenceWebSocket`. */
  silenceWebSocket = false;
  /** Set by the long-poll module: a flush has events a pull connection may want. */
  onPullWake: (connection: Connection) => void = () => {};
  /** See {@link cursorAdvanceAt}. */
  private readonly advanceAt: number;
  private readonly batchers = new Map<string, { orgId: string; service: string; batcher: AdaptiveBatcher }>();

  constructor(
    readonly options: ResolvedDevServerOptions,
    readonly clock: Clock = systemClock,
  ) {
    this.log = new EventLog(options.replayBufferSize, options.wallClock);
    this.advanceAt = cursorAdvanceAt(options.replayBufferSize);
    this.tokens = new TokenStore(options.wallClock, options.verifyToken);
  }

  /** Stores an event and queues it for live delivery. */
  publish(orgId: string, input: PublishInput): RealtimeEvent {
    const valid = validatePublishInput(orgId, input);
    const event = this.log.append(orgId, valid);
    this.counters.publishedTotal++;
    this.batcherFor(orgId, event.service).add(event);
    return event;
  }

  authenticate(token: string | undefined): AuthResult {
    return this.tokens.verify(token);
  }

  /** The `overloaded` error when one more connection from `origin` is over a quota. */
  checkQuota(origin: string | undefined): ErrorFrame | undefined {
    const { maxConnections, maxConnectionsPerOrigin, overloadedRetryAfterMs } = this.options;
    const overTotal = this.registry.size >= maxConnections;
    if (!overTotal && this.registry.countForOrigin(origin) < maxConnectionsPerOrigin) return undefined;
    this.counters.overloadedRejections++;
    return {
      type: 'error',
      code: 'overloaded',
      message: overTotal ? 'too many connections' : 'too many connections from this origin',
      retryAfterMs: overloadedRetryAfterMs,
    };
  }

  /**
   * Registers a connection and works out how its stream starts: `welcome`,
   * then per service either nothing (no client cursor: it starts at the
   * head), batches replaying what the client lacks, or a `reset`. The
   * welcome's cursor is where each service continues from: the client's own
   * cursor for a replayed service (the batches that follow start there), the
   * head for a new one and for a reset one (the `reset` right after says the
   * same). Push connections are sent the frames here; for long-poll they are
   * the answer's body.
   */
  open(request: OpenRequest): { connection: Connection; frames: ServerFrame[] } {
    const startedAt = this.clock.now();
    const services = unique(request.services);
    const connection = new Connection(
      {
        id: `conn_${randomBytes(9).toString('base64url')}`,
        transport: request.transport,
        orgId: request.identity.orgId,
        userId: request.identity.userId,
        token: request.token,
        origin: request.origin,
        services,
        propertyIds: request.propertyIds,
        openedAt: this.options.wallClock(),
      },
      request.channel,
      this.clock,
    );
    const orgId = connection.orgId;
    const welcomeCursor: Cursor = {};
    const followUps: ServerFrame[] = [];
    let replayed = false;
    let eventCount = 0;
    for (const service of services) {
      const head = this.log.head(orgId, service);
      const from = ownSeq(request.clientCursor, service);
      if (from === undefined) {
        welcomeCursor[service] = head;
        continue;
      }
      const canReplay = replayable(this.log, orgId, service, from);
      welcomeCursor[service] = canReplay ? from : head;
      replayed ||= canReplay;
      const catchUp = catchUpService(
        this.log,
        orgId,
        service,
        from,
        request.propertyIds,
        this.options.maxBatchSize,
        this.advanceAt,
      );
      followUps.push(...catchUp.frames);
      eventCount += catchUp.eventCount;
    }
    for (const [service, seq] of Object.entries(welcomeCursor)) connection.cursor.set(service, seq);
    this.registry.add(connection);
    this.counters.totalConnections++;
    const welcome: WelcomeFrame = {
      type: 'welcome',
      connectionId: connection.id,
      serverTime: this.options.wallClock(),
      heartbeatMs: this.options.heartbeatMs,
      cursor: welcomeCursor,
    };
    const frames: ServerFrame[] = [welcome, ...followUps];
    if (connection.pushes) {
      this.attachPushMachinery(connection, request.tokenExpiresAt);
      for (const frame of frames) connection.send(frame);
    } else {
      for (const frame of frames) connection.accountFor(frame);
    }
    if (replayed) {
      this.counters.lastCatchUp = {
        connectionId: connection.id,
        eventCount,
        durationMs: this.clock.now() - startedAt,
        completedAt: new Date(this.options.wallClock()).toISOString(),
      };
    }
    this.options.log(
      `open ${connection.transport} ${connection.id} org=${orgId} services=${services.join(',')}`,
    );
    return { connection, frames };
  }

  /**
   * Frames a long-poll should answer with: whatever the buffer holds after
   * the poll's cursor (falling back to the connection's for services the
   * poll's cursor lacks), as batches or resets.
   */
  pollFrames(connection: Connection, pollCursor: Cursor | undefined): ServerFrame[] {
    const frames: ServerFrame[] = [];
    for (const service of connection.services) {
      const from =
        ownSeq(pollCursor, service) ??
        connection.cursor.get(service) ??
        this.log.head(connection.orgId, service);
      const { maxBatchSize } = this.options;
      frames.push(
        ...catchUpService(
          this.log,
          connection.orgId,
          service,
          from,
          connection.propertyIds,
          maxBatchSize,
          this.advanceAt,
        ).frames,
      );
    }
    for (const frame of frames) connection.accountFor(frame);
    return frames;
  }

  /**
   * Changes a live connection's subscription in place. Returns the start
   * cursor (the head) of each newly added service; from there it is live.
   */
  updateSubscription(connection: Connection, services: string[], propertyIds: string[] | null): Cursor {
    const next = unique(services);
    const added: Cursor = {};
    for (const service of next) {
      if (connection.isSubscribed(service)) continue;
      const head = this.log.head(connection.orgId, service);
      connection.cursor.set(service, head);
      added[service] = head;
    }
    const kept = new Set(next);
    for (const service of connection.services) {
      if (!kept.has(service)) connection.cursor.delete(service);
    }
    connection.services = next;
    connection.propertyIds = propertyIds;
    return added;
  }

  /** A refreshed token on a live socket (`auth` frame). */
  refreshToken(connection: Connection, token: string): void {
    const result = this.tokens.verify(token);
    if (!result.ok) {
      this.refuse(connection, result.code, `token refused: ${result.code}`);
      return;
    }
    if (result.identity.orgId !== connection.orgId || result.identity.userId !== connection.userId) {
      this.refuse(connection, 'unauthorized', 'token belongs to another user');
      return;
    }
    connection.token = token;
    this.watchToken(connection, result.expiresAt);
  }

  /** Sends `error` and ends the connection (WebSocket close code 4xxx). */
  refuse(connection: Connection, code: RefusalCode, message: string): void {
    if (connection.closed) return;
    connection.channel.closeWithError({ type: 'error', code, message }, CLOSE_CODE_OF[code]);
    this.remove(connection);
  }

  /** Forgets a connection (closed by either side). Safe to call twice. */
  remove(connection: Connection): void {
    connection.dispose();
    if (this.registry.remove(connection)) this.options.log(`close ${connection.transport} ${connection.id}`);
  }

  /** Every issued token expires now; connections holding one get `unauthorized`. */
  expireTokens(): void {
    this.tokens.expireAll();
    for (const connection of this.registry.all()) {
      if (connection.token === undefined) continue;
      const result = this.tokens.verify(connection.token);
      if (!result.ok) this.refuse(connection, result.code, 'token expired');
    }
  }

  revokeUser(orgId: string, userId: string): void {
    this.tokens.revoke(orgId, userId);
    for (const connection of this.registry.ofOrg(orgId)) {
      if (connection.userId === userId) this.refuse(connection, 'forbidden', 'access revoked');
    }
  }

  /** Cuts every connection without a close frame. Long-poll connections stay known. */
  dropConnections(): void {
    for (const connection of this.registry.all()) {
      connection.channel.destroy();
      if (connection.pushes) this.remove(connection);
    }
  }

  sendRaw(orgId: string, text: string): void {
    for (const connection of this.registry.ofOrg(orgId)) connection.sendRaw(text);
  }

  /** Server stopping: every connection and pending batch goes; the log stays. */
  shutdown(): void {
    for (const connection of this.registry.all()) {
      connection.channel.destroy();
      this.remove(connection);
    }
    for (const { batcher } of this.batchers.values()) batcher.cancel();
  }

  /** A new epoch: every event and seq is forgotten. */
  wipe(): void {
    for (const { batcher } of this.batchers.values()) batcher.cancel();
    this.batchers.clear();
    this.log.wipe();
  }

  /** Waits out `faults.delay` before an HTTP answer. */
  async delayAnswer(): Promise<void> {
    const ms = this.delayMs;
    if (ms > 0) await new Promise<void>((resolve) => this.clock.setTimeout(resolve, ms));
  }

  metrics(): DevServerMetrics {
    const connections = this.registry.all();
    const windows = [...this.batchers.values()].map(({ orgId, service, batcher }) => ({
      orgId,
      service,
      windowMs: batcher.windowMs,
    }));
    const c = this.counters;
    const metrics: DevServerMetrics = {
      activeConnections: connections.length,
      connectionsByTransport: this.registry.countByTransport(),
      totalConnections: c.totalConnections,
      ...summariseSubscriptions(connections),
      requestsTotal: c.requestsTotal,
      publishedTotal: c.publishedTotal,
      pollWaiters: c.pollWaiters,
      ...summariseBatchWindows(windows),
      invalidClientFrames: c.invalidClientFrames,
      overloadedRejections: c.overloadedRejections,
      quarantinesTotal: c.quarantinesTotal,
      slowConsumerDrops: c.slowConsumerDrops,
      epoch: this.log.epoch,
    };
    if (c.lastCatchUp) metrics.lastCatchUp = { ...c.lastCatchUp };
    return metrics;
  }

  /** Fans one flush of (org, service) out to the connections subscribed to it. */
  private dispatch(orgId: string, service: string, events: RealtimeEvent[]): void {
    const last = events[events.length - 1]?.seq;
    if (last === undefined) return;
    for (const connection of this.registry.ofOrg(orgId)) {
      if (!connection.isSubscribed(service)) continue;
      if (!connection.pushes) {
        this.onPullWake(connection);
        continue;
      }
      const sent = connection.cursor.get(service) ?? 0;
      const fresh = events.filter((e) => e.seq > sent && matchesPropertyFilter(e, connection.propertyIds));
      // Nothing for this connection: send nothing and keep its cursor, so the
      // `after` of its next batch is still what the client holds; unless the
      // client's cursor would fall out of the replay buffer, and a reconnect
      // with it be answered with a `reset`: then an empty batch moves it on.
      // Never during a quarantine, whose shed events the cursor must not pass.
      if (fresh.length === 0) {
        if (last - sent >= this.advanceAt && !connection.quarantine?.quarantined) {
          connection.send(filteredOut(service, sent, last));
        }
        continue;
      }
      // Asked only now, so that a flush the filter emptied does not count as
      // shed: the quarantine's reset is for services that really lost events.
      if (connection.quarantine?.shouldShed(service)) continue;
      connection.send({
        type: 'batch',
        events: fresh,
        after: { [service]: sent },
        cursor: { [service]: last },
      });
    }
  }

  private batcherFor(orgId: string, service: string): AdaptiveBatcher {
    const key = JSON.stringify([orgId, service]);
    let entry = this.batchers.get(key);
    if (!entry) {
      const batcher = new AdaptiveBatcher(
        this.options.batchWindowMs,
        this.options.maxBatchSize,
        (events) => this.dispatch(orgId, service, events),
        this.clock,
      );
      entry = { orgId, service, batcher };
      this.batchers.set(key, entry);
    }
    return entry.batcher;
  }

  private attachPushMachinery(connection: Connection, tokenExpiresAt: number | undefined): void {
    connection.quarantine = new QuarantineMonitor(
      this.options.quarantine,
      () => connection.channel.queuedBytes(),
      {
        onEnter: () => {
          this.counters.quarantinesTotal++;
          this.options.log(`quarantine ${connection.id}`);
        },
        onExit: (shed) => this.endQuarantine(connection, shed),
        onStuck: () => this.dropStuck(connection),
      },
      this.clock,
    );
    connection.startHeartbeat(this.options.heartbeatMs, this.options.wallClock);
    this.watchToken(connection, tokenExpiresAt);
  }

  // Cut as a network drop would: a stuck client would not read a close frame
  // either, and the frames already queued are released with the socket. The
  // client reconnects with its cursor and is replayed from the buffer.
  private dropStuck(connection: Connection): void {
    if (connection.closed) return;
    this.counters.slowConsumerDrops++;
    this.options.log(`drop stuck consumer ${connection.id}: send queue over dropQueueBytes`);
    connection.channel.destroy();
    this.remove(connection);
  }

  // The client missed whatever was shed; a reset makes it resync rather than
  // carry on as if nothing had happened.
  private endQuarantine(connection: Connection, shed: string[]): void {
    this.options.log(`quarantine over ${connection.id}`);
    for (const service of shed) {
      if (!connection.isSubscribed(service)) continue;
      const head = this.log.head(connection.orgId, service);
      connection.send({
        type: 'reset',
        services: [service],
        cursor: { [service]: head },
        reason: 'quarantine',
      });
    }
  }

  private watchToken(connection: Connection, expiresAt: number | undefined): void {
    if (!connection.pushes) return;
    const delay = expiresAt === undefined ? undefined : expiresAt - this.options.wallClock();
    connection.watchTokenExpiry(delay, () => this.refuse(connection, 'unauthorized', 'token expired'));
  }
}
