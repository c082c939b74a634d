import type { WallClock } from '../clock';
import { RealtimeError } from '../errors';
import { readPollResponse } from '../protocol/frame-reader';
import type { Cursor } from '../protocol/schemas';
import { abortedError, networkError, onAbort } from './failures';
import { errorFromResponse } from './http-errors';
import { validateLongPollOptions } from './transport-options';
import type { Transport, TransportConnection, TransportContext, UpdateResult } from './types';
import { postUpdateServices } from './update-services';
import { pollUrl } from './url';
import { connectionIdOfWelcomeObject } from './welcome';

/** Options of {@link longPollTransport}. */
export interface LongPollTransportOptions {
  /** The `fetch` to use; default `globalThis.fetch` (looked up at connect time). */
  fetch?: typeof fetch;
  /** Seconds the server may hold a poll open; default 25. */
  waitSeconds?: number;
  /** Wall clock for the `serverTime` of the heartbeat made from a 204, and `Retry-After` dates; default `Date.now`. */
  now?: WallClock;
}

/** Default of {@link LongPollTransportOptions.waitSeconds}, as PROTOCOL.md's default `wait`. */
export const DEFAULT_POLL_WAIT_SECONDS = 25;

/**
 * The long-poll transport. `connect` makes one `GET /poll?…&wait=0` without a
 * connection id; its answer starts with the `welcome` that names the
 * connection, and `connect` resolves then. After that it polls in a loop with
 * the connection id and the current cursor (`ctx.getCursor()` when the core
 * provides it, so a gap the core found is replayed by the very next poll).
 *
 * Frames arrive as objects (the poll answer is one JSON document); a `204`
 * becomes a synthetic `heartbeat` frame so the core's liveness watchdog sees
 * every completed poll. Any failure of a poll ends the connection through
 * `onClose` with the status and the mapped error.
 */
export function longPollTransport(options: LongPollTransportOptions = {}): Transport {
  validateLongPollOptions(options);
  return {
    name: 'long-poll',
    connect: (ctx) => connectLongPoll(ctx, options),
  };
}

interface PollDeps {
  fetch: typeof fetch;
  now: WallClock;
  waitSeconds: number;
}

/** The outcome of one poll request. */
type PollOutcome =
  | { kind: 'frames'; frames: unknown[] }
  | { kind: 'empty' }
  | { kind: 'failed'; error: RealtimeError }
  | { kind: 'aborted' };

async function poll(
  url: string,
  token: string | undefined,
  signal: AbortSignal,
  deps: PollDeps,
): Promise<PollOutcome> {
  const doFetch = deps.fetch;
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (token !== undefined) headers.Authorization = `Bearer ${token}`;
  let response: Response;
  try {
    response = await doFetch(url, { headers, signal, cache: 'no-store' });
  } catch (error) {
    return signal.aborted ? { kind: 'aborted' } : { kind: 'failed', error: networkError(error, 'poll') };
  }
  if (response.status === 204) return { kind: 'empty' };
  if (response.status !== 200) return { kind: 'failed', error: await errorFromResponse(response, deps.now) };
  let body: unknown;
  try {
    body = await response.json();
  } catch (error) {
    if (signal.aborted) return { kind: 'aborted' };
    return {
      kind: 'failed',
      error: new RealtimeError('transport_unavailable', 'poll answer is not JSON', {
        cause: error,
        status: 200,
      }),
    };
  }
  const parsed = readPollResponse(body);
  if (parsed === undefined) {
    return {
      kind: 'failed',
      error: new RealtimeError('transport_unavailable', 'poll answer is not { frames: [...] }', {
        status: 200,
      }),
    };
  }
  // An empty 200 means what a 204 means; as frames it would pass the watchdog nothing.
  if (parsed.frames.length === 0) return { kind: 'empty' };
  return { kind: 'frames', frames: parsed.frames };
}

async function connectLongPoll(
  ctx: TransportContext,
  options: LongPollTransportOptions,
): Promise<TransportConnection> {
  if (ctx.signal.aborted) throw abortedError(ctx.signal);
  const doFetch = options.fetch ?? globalThis.fetch;
  if (typeof doFetch !== 'function') {
    throw new RealtimeError('transport_unavailable', 'no fetch in this environment');
  }
  const deps: PollDeps = {
    fetch: doFetch,
    now: options.now ?? Date.now,
    waitSeconds: options.waitSeconds ?? DEFAULT_POLL_WAIT_SECONDS,
  };

  const first = new AbortController();
  const stopListening = onAbort(ctx.signal, () => first.abort(ctx.signal.reason));
  const url = pollUrl(ctx.url, {
    services: ctx.services,
    propertyIds: ctx.propertyIds,
    cursor: ctx.cursor,
    wait: 0,
  });
  const outcome = await poll(url, ctx.token, first.signal, deps);
  stopListening();
  if (outcome.kind === 'aborted' || ctx.signal.aborted) throw abortedError(ctx.signal);
  if (outcome.kind === 'failed') throw outcome.error;
  const connectionId = outcome.kind === 'frames' ? connectionIdOfWelcomeObject(outcome.frames[0]) : undefined;
  if (outcome.kind !== 'frames' || connectionId === undefined) {
    throw new RealtimeError('transport_unavailable', 'the first poll did not start with a welcome frame');
  }
  const session = new PollSession(ctx, deps, connectionId);
  session.deliver(outcome.frames);
  session.start();
  return session.connection;
}

// Names the cursor schema refuses: they would reach Object.prototype.
const PROTOTYPE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * Copies the numeric entries of a frame's cursor. The frame is not validated
 * here (the core does that), so prototype keys are skipped.
 */
function mergeCursor(into: Cursor, from: unknown): void {
  if (typeof from !== 'object' || from === null) return;
  for (const key of Object.keys(from)) {
    const seq = (from as Record<string, unknown>)[key];
    if (typeof seq === 'number' && !PROTOTYPE_KEYS.has(key)) into[key] = seq;
  }
}

// The poll loop of one connection. `update` aborts the poll in flight (its
// own controller) so the loop re-polls at once with the new subscription.
class PollSession {
  readonly connection: TransportConnection;
  private readonly ctx: TransportContext;
  private readonly deps: PollDeps;
  private connectionId: string;
  private services: string[];
  private propertyIds: string[] | null;
  private token: string | undefined;
  // The cursor as this transport saw it: used when the core gives no getCursor.
  private readonly cursor: Cursor;
  private inFlight: AbortController | undefined;
  private closed = false;
  // Aborts the update POSTs when the connection closes.
  private readonly lifetime = new AbortController();
  private readonly stopListening: () => void;

  constructor(ctx: TransportContext, deps: PollDeps, connectionId: string) {
    this.ctx = ctx;
    this.deps = deps;
    this.connectionId = connectionId;
    this.services = ctx.services;
    this.propertyIds = ctx.propertyIds;
    this.token = ctx.token;
    this.cursor = Object.create(null) as Cursor;
    mergeCursor(this.cursor, ctx.cursor);
    this.stopListening = onAbort(ctx.signal, () => this.close());
    this.connection = {
      update: (services, propertyIds) => this.update(services, propertyIds),
      setToken: (token) => {
        this.token = token;
      },
      close: () => this.close(),
    };
  }

  start(): void {
    void this.loop();
  }

  /** Hands a poll's frames to the core, noting the cursor they move to. */
  deliver(frames: unknown[]): void {
    for (const frame of frames) {
      if (this.closed) return;
      if (typeof frame === 'object' && frame !== null) {
        const type = (frame as { type?: unknown }).type;
        if (type === 'batch' || type === 'reset' || type === 'welcome') {
          mergeCursor(this.cursor, (frame as { cursor?: unknown }).cursor);
        }
        // A server that forgot an idle connection opens a new one on the next
        // poll and says so with a new welcome: later polls and updates use it.
        if (type === 'welcome') this.connectionId = connectionIdOfWelcomeObject(frame) ?? this.connectionId;
      }
      // Non-objects go on too: the core counts them as invalid.
      this.ctx.onFrame(frame as object);
    }
  }

  private async loop(): Promise<void> {
    while (!this.closed) {
      const controller = new AbortController();
      this.inFlight = controller;
      const url = pollUrl(this.ctx.url, {
        connectionId: this.connectionId,
        services: this.services,
        propertyIds: this.propertyIds,
        cursor: this.ctx.getCursor?.() ?? this.cursor,
        wait: this.deps.waitSeconds,
      });
      const outcome = await poll(url, this.token, controller.signal, this.deps);
      this.inFlight = undefined;
      if (this.closed) return;
      switch (outcome.kind) {
        case 'aborted':
          continue; // an update: poll again with the new subscription
        case 'empty':
          this.ctx.onFrame({ type: 'heartbeat', serverTime: this.deps.now() });
          continue;
        case 'frames':
          this.deliver(outcome.frames);
          continue;
        case 'failed':
          this.end();
          this.ctx.onClose({
            status: outcome.error.status,
            code: outcome.error.code,
            retryAfterMs: outcome.error.retryAfterMs,
            error: outcome.error,
          });
          return;
      }
    }
  }

  private async update(services: string[], propertyIds: string[] | null): Promise<UpdateResult> {
    if (this.closed) throw new RealtimeError('connection_lost', 'the long-poll connection is closed');
    const result = await postUpdateServices({
      fetch: this.deps.fetch,
      url: this.ctx.url,
      token: this.token,
      connectionId: this.connectionId,
      services,
      propertyIds,
      signal: this.lifetime.signal,
      now: this.deps.now,
    });
    if (this.closed) return result;
    this.services = services;
    this.propertyIds = propertyIds;
    if (result.cursor !== undefined) mergeCursor(this.cursor, result.cursor);
    this.inFlight?.abort();
    return result;
  }

  private end(): void {
    this.closed = true;
    this.stopListening();
    this.lifetime.abort();
    this.inFlight?.abort();
    this.inFlight = undefined;
  }

  private close(): void {
    if (!this.closed) this.end();
  }
}
