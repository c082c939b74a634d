import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Cursor, ErrorFrame, ServerFrame } from '../protocol/schemas';
import type { Connection, FrameChannel } from './connection';
import {
  HttpError,
  originOf,
  parseCursorParam,
  parsePropertyIdsParam,
  parseServicesParam,
  requireIdentity,
  sendEmpty,
  sendJson,
  statusOf,
} from './http-util';
import type { RealtimeHub } from './hub';
import { MAX_POLL_WAIT_SECONDS } from './options';

interface Waiter {
  res: ServerResponse;
  cursor: Cursor | undefined;
  timer: unknown;
}

/**
 * A long-poll connection's way out. Batches are not queued here: every poll
 * is answered from the replay buffer after the poll's cursor, so a lost
 * answer is simply replayed by the next poll. Only frames that are not in
 * the log (errors, raw fault frames) wait in `pending` for the next poll.
 * At most one poll waits at a time; a newer poll ends the older with 204.
 */
export class LongPollChannel implements FrameChannel {
  private connection: Connection | undefined;
  private waiter: Waiter | undefined;
  private pending: (ServerFrame | string)[] = [];
  private idleTimer: unknown;

  constructor(private readonly hub: RealtimeHub) {}

  get pollWaiting(): boolean {
    return this.waiter !== undefined;
  }

  bind(connection: Connection): void {
    this.connection = connection;
  }

  writeFrame(frame: ServerFrame): void {
    this.pending.push(frame);
    this.wake();
  }

  writeRaw(text: string): void {
    this.pending.push(text);
    this.wake();
  }

  queuedBytes(): number {
    return 0;
  }

  closeWithError(frame: ErrorFrame): void {
    const waiter = this.takeWaiter();
    if (waiter) void this.answer(waiter.res, statusOf(frame.code), frame);
  }

  destroy(): void {
    const waiter = this.takeWaiter();
    if (!waiter) return;
    // The connection stays known for the client's next poll; the waiter's
    // `close` handler will no longer arm the idle timer (the waiter is gone),
    // so arm it here or a client that never polls again is kept for good.
    this.armIdle();
    if (waiter.res.socket) waiter.res.socket.destroy();
    else waiter.res.destroy();
  }

  dispose(): void {
    this.cancelIdle();
    const waiter = this.takeWaiter();
    if (waiter) void this.answer(waiter.res, 204);
  }

  /** A flush had events for this connection's services: answer the waiting poll if they pass its filter. */
  wake(): void {
    const connection = this.connection;
    if (!connection || !this.waiter) return;
    const frames = [...this.takePending(), ...this.hub.pollFrames(connection, this.waiter.cursor)];
    if (frames.length === 0) return;
    const waiter = this.takeWaiter();
    if (waiter) void this.answer(waiter.res, 200, { frames });
  }

  /** Answers the poll that opened the connection: welcome and catch-up. */
  answerOpening(res: ServerResponse, frames: ServerFrame[]): void {
    void this.answer(res, 200, { frames });
  }

  /** A poll of a known connection: answer now if there is something after its cursor, else wait. */
  poll(res: ServerResponse, cursor: Cursor | undefined, waitMs: number): void {
    const connection = this.connection;
    if (!connection) throw new HttpError(500, 'server_error', 'long-poll channel not bound');
    this.cancelIdle();
    const older = this.takeWaiter();
    if (older) void this.answer(older.res, 204);
    const frames = [...this.takePending(), ...this.hub.pollFrames(connection, cursor)];
    if (frames.length > 0) {
      void this.answer(res, 200, { frames });
      return;
    }
    if (waitMs <= 0) {
      void this.answer(res, 204);
      return;
    }
    const timer = this.hub.clock.setTimeout(() => {
      if (this.waiter?.res !== res) return;
      this.takeWaiter();
      void this.answer(res, 204);
    }, waitMs);
    this.waiter = { res, cursor, timer };
    this.hub.counters.pollWaiters++;
    res.on('close', () => {
      // The client went away while waiting (or a fault cut it).
      if (this.waiter?.res !== res) return;
      this.takeWaiter();
      this.armIdle();
    });
  }

  private takePending(): (ServerFrame | string)[] {
    const frames = this.pending;
    this.pending = [];
    return frames;
  }

  private takeWaiter(): Waiter | undefined {
    const waiter = this.waiter;
    if (!waiter) return undefined;
    this.waiter = undefined;
    this.hub.clock.clearTimeout(waiter.timer);
    this.hub.counters.pollWaiters--;
    return waiter;
  }

  private async answer(res: ServerResponse, status: number, body?: unknown): Promise<void> {
    this.armIdle();
    try {
      await this.hub.delayAnswer();
      if (body === undefined) sendEmpty(res, status);
      else sendJson(res, status, body);
    } catch (error) {
      this.hub.options.log(`long-poll answer failed: ${String(error)}`);
      res.destroy();
    }
  }

  // A long-poll connection has no socket whose close would tell us the
  // client left; it is forgotten when nobody polls it for a while.
  private armIdle(): void {
    this.cancelIdle();
    const connection = this.connection;
    if (!connection || connection.closed) return;
    this.idleTimer = this.hub.clock.setTimeout(() => {
      this.idleTimer = undefined;
      if (!this.waiter) this.hub.remove(connection);
    }, this.hub.options.pollIdleTimeoutMs);
  }

  private cancelIdle(): void {
    if (this.idleTimer !== undefined) this.hub.clock.clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }
}

function parseWaitSeconds(value: string | null, fallback: number): number {
  if (value === null || value === '') return fallback;
  const seconds = Number(value);
  if (!Number.isFinite(seconds))
    throw new HttpError(400, 'bad_request', `wait must be a number of seconds, got ${value}`);
  return Math.min(MAX_POLL_WAIT_SECONDS, Math.max(0, seconds));
}

/**
 * `GET /poll`. Without a known `connectionId` it opens a connection and
 * answers at once with `welcome` and any replay or reset frames. With one,
 * `services`/`propertyIds` (when given) replace the subscription, and the
 * poll's `cursor` (falling back to the connection's cursor per service)
 * decides what is new.
 */
export function handlePoll(
  hub: RealtimeHub,
  req: IncomingMessage,
  res: ServerResponse,
  query: URLSearchParams,
): void {
  const auth = requireIdentity(req, (token) => hub.authenticate(token));
  const servicesParam = query.get('services');
  const services = servicesParam === null ? undefined : parseServicesParam(servicesParam);
  const propertyIds = parsePropertyIdsParam(query.get('propertyIds'));
  const cursor = parseCursorParam(query.get('cursor'));
  const waitMs = parseWaitSeconds(query.get('wait'), hub.options.pollWaitSeconds) * 1000;
  const connectionId = query.get('connectionId');
  const existing = connectionId ? hub.registry.get(connectionId) : undefined;

  if (existing) {
    if (existing.orgId !== auth.identity.orgId || existing.userId !== auth.identity.userId) {
      throw new HttpError(401, 'unauthorized', 'token belongs to another user');
    }
    if (!(existing.channel instanceof LongPollChannel)) {
      throw new HttpError(400, 'bad_request', `connection ${existing.id} is not a long-poll connection`);
    }
    existing.token = auth.token;
    if (services !== undefined) hub.updateSubscription(existing, services, propertyIds);
    else if (query.has('propertyIds')) hub.updateSubscription(existing, existing.services, propertyIds);
    existing.channel.poll(res, cursor, waitMs);
    return;
  }

  const origin = originOf(req);
  const overloaded = hub.checkQuota(origin);
  if (overloaded) throw new HttpError(429, 'overloaded', overloaded.message, overloaded.retryAfterMs);
  const channel = new LongPollChannel(hub);
  const { connection, frames } = hub.open({
    transport: 'long-poll',
    identity: auth.identity,
    token: auth.token,
    tokenExpiresAt: auth.expiresAt,
    origin,
    services: services ?? [],
    propertyIds,
    clientCursor: cursor,
    channel,
  });
  channel.bind(connection);
  channel.answerOpening(res, frames);
}
