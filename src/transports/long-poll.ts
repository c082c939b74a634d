import type { WallClock } from '../clock';
import type { RealtimeError } from '../errors';
import type { Cursor } from '../protocol/schemas';
import { errorFromResponse, type HttpDeps, httpDeps, send } from './http-request';
import type { TransportKit } from './kit';
import type { Transport, TransportConnection, TransportContext, UpdateResult } from './types';
import { postUpdateServices } from './update-services';
import type { SubscriptionQuery } from './url';
import { connectionIdOfWelcomeObject } from './welcome';

// Loaded lazily (builtins.ts): the core's classes and helpers come in `kit`,
// the core's modules are imported for their types only (see kit.ts).

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
export function longPollTransport(options: LongPollTransportOptions, kit: TransportKit): Transport {
  // Options were checked by the exported factory (builtins.ts), not again here.
  return {
    name: 'long-poll',
    connect: (ctx) => connectLongPoll(ctx, options, kit),
  };
}

/** A `/poll` query: the subscription plus the connection and how long to wait. */
export interface PollQuery extends SubscriptionQuery {
  connectionId?: string;
  /** Seconds the server may hold the request open. */
  wait: number;
}

/** `GET /poll`: `connectionId` (when known) first, then the subscription and `wait`. */
export function pollUrl(base: string, query: PollQuery, kit: TransportKit): string {
  const id =
    query.connectionId === undefined ? '' : `connectionId=${encodeURIComponent(query.connectionId)}&`;
  return kit.endpointUrl(base, 'poll', `${id}${kit.subscriptionQuery(query)}&wait=${query.wait}`).href;
}

interface PollDeps extends HttpDeps {
  waitSeconds: number;
}

/**
 * One poll request. Resolves with the frames of the answer (none for a 204 or
 * an empty 200), with `undefined` when `signal` aborted it before an answer
 * (an update: poll again), or with the error that ends the connection.
 */
async function poll(
  url: string,
  token: string | undefined,
  signal: AbortSignal,
  deps: PollDeps,
): Promise<unknown[] | RealtimeError | undefined> {
  const { kit } = deps;
  let response: Response;
  try {
    response = await send(deps, url, token, { headers: { Accept: 'application/json' }, signal }, 'poll');
  } catch (error) {
    return signal.aborted ? undefined : (error as RealtimeError);
  }
  if (response.status === 204) return [];
  if (response.status !== 200) return errorFromResponse(response, deps);
  let body: unknown;
  try {
    body = await response.json();
  } catch (error) {
    return signal.aborted
      ? undefined
      : kit.unavailable('poll answer is not JSON', { cause: error, status: 200 });
  }
  // An empty 200 means what a 204 means: the caller turns both into a heartbeat.
  return (
    kit.readPollResponse(body)?.frames ??
    kit.unavailable('poll answer is not { frames: [...] }', { status: 200 })
  );
}

async function connectLongPoll(
  ctx: TransportContext,
  options: LongPollTransportOptions,
  kit: TransportKit,
): Promise<TransportConnection> {
  const { abortedError } = kit;
  if (ctx.signal.aborted) throw abortedError(ctx.signal);
  const deps: PollDeps = {
    ...httpDeps(options, kit),
    waitSeconds: options.waitSeconds ?? DEFAULT_POLL_WAIT_SECONDS,
  };

  const first = new AbortController();
  const stopListening = kit.onAbort(ctx.signal, () => first.abort(ctx.signal.reason));
  const url = pollUrl(
    ctx.url,
    { services: ctx.services, propertyIds: ctx.propertyIds, cursor: ctx.cursor, wait: 0 },
    kit,
  );
  const frames = await poll(url, ctx.token, first.signal, deps);
  stopListening();
  if (frames === undefined || ctx.signal.aborted) throw abortedError(ctx.signal);
  if (frames instanceof kit.RealtimeError) throw frames;
  const connectionId = connectionIdOfWelcomeObject(frames[0]);
  if (connectionId === undefined) throw kit.unavailable('the first poll did not start with a welcome frame');
  const session = new PollSession(ctx, deps, connectionId);
  session.deliver(frames);
  session.start();
  return session.connection;
}

/**
 * Over long-poll the answer to a poll is the heartbeat (a 204 becomes one),
 * and the server may hold a poll for the `wait` this transport asked for: a
 * welcome's `heartbeatMs` shorter than that is raised to it, so the core's
 * watchdog (dead after two missed heartbeats) never ends a healthy poll.
 */
function withPollHeartbeat(welcome: object, waitMs: number): object {
  const { heartbeatMs } = welcome as { heartbeatMs?: unknown };
  return typeof heartbeatMs === 'number' && heartbeatMs < waitMs
    ? { ...welcome, heartbeatMs: waitMs }
    : welcome;
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
  readonly #ctx: TransportContext;
  readonly #deps: PollDeps;
  #connectionId: string;
  #services: string[];
  #propertyIds: string[] | null;
  #token: string | undefined;
  // The cursor as this transport saw it: used when the core gives no getCursor.
  readonly #cursor: Cursor;
  #inFlight: AbortController | undefined;
  #closed = false;
  // Aborts the update POSTs when the connection closes.
  readonly #lifetime = new AbortController();
  readonly #stopListening: () => void;

  constructor(ctx: TransportContext, deps: PollDeps, connectionId: string) {
    this.#ctx = ctx;
    this.#deps = deps;
    this.#connectionId = connectionId;
    this.#services = ctx.services;
    this.#propertyIds = ctx.propertyIds;
    this.#token = ctx.token;
    this.#cursor = Object.create(null) as Cursor;
    mergeCursor(this.#cursor, ctx.cursor);
    this.#stopListening = deps.kit.onAbort(ctx.signal, () => this.#close());
    this.connection = {
      update: (services, propertyIds) => this.#update(services, propertyIds),
      setToken: (token) => {
        this.#token = token;
      },
      close: () => this.#close(),
    };
  }

  start(): void {
    void this.#loop();
  }

  /** Hands a poll's frames to the core, noting the cursor they move to. */
  deliver(frames: unknown[]): void {
    for (let frame of frames) {
      if (this.#closed) return;
      if (typeof frame === 'object' && frame !== null) {
        const type = (frame as { type?: unknown }).type;
        if (type === 'batch' || type === 'reset' || type === 'welcome') {
          mergeCursor(this.#cursor, (frame as { cursor?: unknown }).cursor);
        }
        if (type === 'welcome') {
          // A server that forgot an idle connection opens a new one on the next
          // poll and says so with a new welcome: later polls and updates use it.
          this.#connectionId = connectionIdOfWelcomeObject(frame) ?? this.#connectionId;
          frame = withPollHeartbeat(frame, this.#deps.waitSeconds * 1000);
        }
      }
      // Non-objects go on too: the core counts them as invalid.
      this.#ctx.onFrame(frame as object);
    }
  }

  async #loop(): Promise<void> {
    while (!this.#closed) {
      const controller = new AbortController();
      this.#inFlight = controller;
      const url = pollUrl(
        this.#ctx.url,
        {
          connectionId: this.#connectionId,
          services: this.#services,
          propertyIds: this.#propertyIds,
          cursor: this.#ctx.getCursor?.() ?? this.#cursor,
          wait: this.#deps.waitSeconds,
        },
        this.#deps.kit,
      );
      const outcome = await poll(url, this.#token, controller.signal, this.#deps);
      this.#inFlight = undefined;
      if (this.#closed) return;
      if (outcome instanceof this.#deps.kit.RealtimeError) {
        this.#close();
        this.#ctx.onClose({
          status: outcome.status,
          code: outcome.code,
          retryAfterMs: outcome.retryAfterMs,
          error: outcome,
        });
        return;
      }
      // `undefined`: an update aborted the poll; poll again with the new subscription.
      if (outcome === undefined) continue;
      if (outcome.length === 0) this.#ctx.onFrame({ type: 'heartbeat', serverTime: this.#deps.now() });
      else this.deliver(outcome);
    }
  }

  async #update(services: string[], propertyIds: string[] | null): Promise<UpdateResult> {
    if (this.#closed)
      throw new this.#deps.kit.RealtimeError('connection_lost', 'the long-poll connection is closed');
    const result = await postUpdateServices({
      ...this.#deps,
      url: this.#ctx.url,
      token: this.#token,
      connectionId: this.#connectionId,
      services,
      propertyIds,
      signal: this.#lifetime.signal,
    });
    if (this.#closed) return result;
    this.#services = services;
    this.#propertyIds = propertyIds;
    if (result.cursor !== undefined) mergeCursor(this.#cursor, result.cursor);
    this.#inFlight?.abort();
    return result;
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#stopListening();
    this.#lifetime.abort();
    this.#inFlight?.abort();
    this.#inFlight = undefined;
  }
}
