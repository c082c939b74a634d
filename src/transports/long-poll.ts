import type { Clock, WallClock } from '../clock';
import type { RealtimeError } from '../errors';
import type { Cursor } from '../protocol/schemas';
import { errorFromResponse, httpDeps, send } from './http-request';
import type { TransportKit } from './kit';
import { mergeCursor, pastOf } from './poll-cursor';
import type { Transport, UpdateResult } from './types';
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
  /**
   * Largest frame kept, in UTF-16 code units of its JSON; larger ones are
   * dropped (and handed to the core as an invalid frame, to be counted).
   * Default 16 Mi; a transport named in `transports` takes the client's
   * `maxFrameChars`.
   */
  maxFrameChars?: number;
  /** Wall clock for the `serverTime` of the heartbeat made from a 204, and `Retry-After` dates; default `Date.now`. */
  now?: WallClock;
  /**
   * Times the polls, and the pause after an answer that came back at once
   * with nothing new (see {@link longPollTransport}); default
   * `performance.now()` and the global timers.
   */
  clock?: Clock;
}

/** Default of {@link LongPollTransportOptions.waitSeconds}, as PROTOCOL.md's default `wait`. */
export const DEFAULT_POLL_WAIT_SECONDS = 25;

/**
 * A frame over `maxFrameChars`, as the core is told of it: a frame it refuses
 * and counts. It keeps the frame's cursor for the next poll (see `pastOf`).
 */
const OVERSIZED = 'oversized';

/** The first pause after an unproductive answer (see the loop). */
const PACE_MS = 1000;

/**
 * The longest: a proxy that cuts every poll short (under a second) leaves
 * events waiting this long at most, at one poll per this long per browser.
 */
const MAX_PACE_MS = 8000;

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

/**
 * The connection id of a `welcome` frame, where a poll's URL can carry it:
 * `encodeURIComponent` throws on a lone surrogate, and a poll that throws
 * ends the loop with an unhandled rejection. A welcome without one is none.
 */
const pollableId = (frame: unknown): string | undefined => {
  const id = connectionIdOfWelcomeObject(frame);
  return id && /\p{Cs}/u.test(id) ? undefined : id;
};

/**
 * The long-poll transport. `connect` makes one `GET /poll?…&wait=0` without a
 * connection id; its answer starts with the `welcome` that names the
 * connection, and `connect` resolves then. After that it polls in a loop with
 * the connection id and the current cursor (`ctx.getCursor()` when the core
 * provides it, past the last answer's frames); `replay()` ends the poll
 * waiting at the server and has the next poll, now, ask from the core's.
 *
 * Frames arrive as objects (the poll answer is one JSON document), those
 * over `maxFrameChars` replaced by a frame the core refuses; a `204`
 * becomes a synthetic `heartbeat` frame so the core's liveness watchdog sees
 * every completed poll. Any failure of a poll ends the connection through
 * `onClose` with the status and the mapped error.
 *
 * After an answer that came back sooner than `wait` and moved no cursor (a
 * proxy answering every poll at once, frames without a cursor) the next
 * poll waits: it goes 1 s after the last one was sent, then 2 s, 4 s and
 * at most 8 s (nor more than `wait`), until an answer moves a cursor,
 * brings a heartbeat or welcome frame of the server's clock more than half a
 * `heartbeatMs` past the last one (not a cache replaying one), or takes that
 * long. `replay()`, `update()` and `close()` end the wait.
 */
export function longPollTransport(options: LongPollTransportOptions, kit: TransportKit): Transport {
  // Options were checked by the exported factory (builtins.ts), not again here.
  const { abortedError, onAbort, RealtimeError } = kit;
  // Unless a clock is given, the globals as they are at each call, so fake
  // timers installed later apply.
  const { clock } = options;
  const timers = clock ?? (globalThis as Pick<Clock, 'setTimeout' | 'clearTimeout'>);
  const now = (): number => (clock ?? performance).now();
  return {
    name: 'long-poll',
    async connect(ctx) {
      const { signal, url } = ctx;
      if (signal.aborted) throw abortedError(signal);
      const deps = httpDeps(options, kit);
      const waitSeconds = options.waitSeconds ?? DEFAULT_POLL_WAIT_SECONDS;
      // The core's default bound (protocol/parse.ts), which this chunk cannot import.
      const maxFrameChars = options.maxFrameChars ?? 2 ** 24;
      let { services, propertyIds, token } = ctx;
      // The cursor as this transport saw it: used when the core gives no getCursor.
      const cursor = Object.create(null) as Cursor;
      mergeCursor(cursor, ctx.cursor);
      // The poll in flight: `update` and `replay` abort it so the loop polls
      // again at once with the new subscription or cursor, `close` so it ends.
      let inFlight: AbortController | undefined;
      let closed = false;
      // Aborts the update POSTs when the connection closes.
      const lifetime = new AbortController();

      // Until `connect` resolves, a core abort ends the first poll; after, it is a
      // close, as the contract says.
      const close = (): void => {
        if (closed) return;
        closed = true;
        stopListening();
        lifetime.abort();
        inFlight?.abort();
      };
      const stopListening = onAbort(signal, close);

      /**
       * One poll. Resolves with the frames of the answer (none for a 204 or an
       * empty 200), with `undefined` when it was aborted before an answer (an
       * update: poll again), or with the error that ends the connection.
       */
      const poll = async (query: PollQuery): Promise<unknown[] | RealtimeError | undefined> => {
        inFlight = new AbortController();
        const pollSignal = inFlight.signal;
        let asked: string;
        let response: Response;
        try {
          // In here: a URL that cannot be built (a lone surrogate) fails this
          // poll, not the loop with an unhandled rejection.
          asked = pollUrl(url, query, kit);
          response = await send(
            deps,
            asked,
            token,
            { headers: { Accept: 'application/json' }, signal: pollSignal },
            'poll',
          );
        } catch (error) {
          if (pollSignal.aborted) return undefined;
          // `send` rejects with RealtimeErrors only; pollUrl throws URIError.
          return error instanceof RealtimeError
            ? error
            : kit.unavailable('poll URL not built', { cause: error });
        }
        if (response.status === 204) return [];
        if (response.status !== 200) return errorFromResponse(response, deps, asked);
        let text: string;
        let body: unknown;
        try {
          text = await response.text();
          body = JSON.parse(text);
        } catch (error) {
          return pollSignal.aborted
            ? undefined
            : kit.unavailable('poll answer is not JSON', { cause: error, status: 200 });
        }
        // An empty 200 means what a 204 means: the loop turns both into a heartbeat.
        const frames = kit.readPollResponse(body)?.frames;
        if (!frames) return kit.unavailable('poll answer is not { frames: [...] }', { status: 200 });
        // The core drops a frame whose text is over `maxFrameChars`, and the
        // other transports hand it each frame's text. Here the answer was
        // parsed whole, so a frame is measured by its JSON (what the relay to
        // the other tabs measures too), and only in an answer longer than the
        // bound: no frame of a shorter one can be over it.
        return text.length > maxFrameChars
          ? frames.map((frame) =>
              JSON.stringify(frame).length > maxFrameChars
                ? { type: OVERSIZED, cursor: (frame as { cursor?: unknown } | null)?.cursor }
                : frame,
            )
          : frames;
      };

      // The first poll, without a connection id, opens the connection.
      const frames = await poll({ services, propertyIds, cursor: ctx.cursor, wait: 0 });
      if (frames === undefined || closed) throw abortedError(signal);
      if (frames instanceof RealtimeError) {
        close();
        throw frames;
      }
      const welcomeId = pollableId(frames[0]);
      // An `error` frame instead (a refusal) goes to the core, which reads it
      // as on a live connection (`forbidden`: stop) and closes this one.
      if (!welcomeId && (frames[0] as { type?: unknown } | null)?.type !== 'error') {
        close();
        throw kit.unavailable('the first poll did not start with a welcome frame');
      }
      let connectionId = welcomeId as string;
      // The `serverTime` of the last welcome or heartbeat, and the last welcome's `heartbeatMs` (not raised).
      let spokeAt: number;
      let heartbeatMs: number;

      /** Hands a poll's frames to the core, noting the cursor they move to. */
      const deliver = (frames: unknown[]): void => {
        for (let frame of frames) {
          if (closed) return;
          if (typeof frame === 'object' && frame !== null) {
            const { type, serverTime, heartbeatMs: ms } = frame as { [key: string]: unknown };
            if (type === 'batch' || type === 'reset' || type === 'welcome') {
              mergeCursor(cursor, (frame as { cursor?: unknown }).cursor);
            }
            // Numbers only: JSON's `{ "valueOf": 0, "toString": 0 }` throws in
            // the pacing's arithmetic, and the poll loop would die with it.
            if ((type === 'heartbeat' || type === 'welcome') && typeof serverTime === 'number')
              spokeAt = serverTime;
            if (type === 'welcome') {
              // A server that forgot an idle connection opens a new one on the next
              // poll and says so with a new welcome: later polls and updates use it.
              connectionId = pollableId(frame) ?? connectionId;
              // The answer to a poll is the heartbeat (a 204 becomes one), and the
              // server may hold a poll for `wait`: a shorter `heartbeatMs` is raised
              // to it, so the core's watchdog (dead after two missed) never ends a
              // healthy poll.
              if (typeof ms === 'number') {
                heartbeatMs = ms;
                if (ms < waitSeconds * 1000) frame = { ...frame, heartbeatMs: waitSeconds * 1000 };
              }
            }
          }
          // Non-objects go on too: the core counts them as invalid.
          ctx.onFrame(frame as object);
        }
      };

      // The next poll goes on past the last answer's frames, as a stream goes
      // on past a frame the core refused (oversized, malformed) or found a
      // hole before: the core's gap check asks for it again at the pace of its
      // replays (`replay()` cancels this). From the core's cursor the server
      // answers with it again at once, poll after poll, and the refused
      // frames trip the rollback guard. And the first answer's frames reach
      // the core only once `connect` has resolved, after the loop's first
      // poll was sent: from before a `reset` the server resets again, and the
      // app resyncs twice.
      let aheadCursor: Cursor | undefined = pastOf(frames);
      // The shortest time from one poll to the next after an unproductive answer.
      let paceMs = PACE_MS;

      const loop = async (): Promise<void> => {
        while (!closed) {
          const current = ctx.getCursor?.() ?? cursor;
          const sentAt = now();
          const spokenBefore = spokeAt;
          // The cursor this poll asks from (the answer is judged by it below).
          const asked = kit.hasKeys(aheadCursor) ? { ...current, ...aheadCursor } : current;
          const outcome = await poll({
            connectionId,
            services,
            propertyIds,
            cursor: asked,
            wait: waitSeconds,
          });
          aheadCursor = undefined;
          if (closed) return;
          if (outcome instanceof RealtimeError) {
            close();
            ctx.onClose({
              status: outcome.status,
              code: outcome.code,
              retryAfterMs: outcome.retryAfterMs,
              error: outcome,
            });
            return;
          }
          // `undefined`: an update or a replay aborted the poll; poll again with the new subscription or cursor.
          if (outcome === undefined) continue;
          // Whether a cursor of the answer differs from the one the poll asked
          // from: an answer that only brings the frames of that cursor again
          // (a cache that ignores the query, a server answering from its last
          // event) moves nothing, and is paced as a 204 below.
          let movedOn = false;
          // `replay()` and `update()` abort the poll: when its answer came all
          // the same (read already, or a `fetch` that ignores the signal), the
          // next poll still asks from the core's cursor, not past the answer,
          // or the replay asked for is skipped.
          const { signal } = inFlight as AbortController;
          if (outcome.length === 0) ctx.onFrame({ type: 'heartbeat', serverTime: deps.now() });
          else {
            aheadCursor = signal.aborted ? undefined : pastOf(outcome);
            for (const key in aheadCursor) movedOn ||= aheadCursor[key] !== asked[key];
            deliver(outcome);
          }
          // An answer sooner than a held poll's that moved no cursor (a
          // proxy's instant 204, a 200 whose frames have no cursor or only
          // reach the one asked from) would come again at once, from every
          // browser, for good. A server answers a held poll early with
          // frames that move the cursor, or with a heartbeat (`heartbeatMs`
          // may be under a second) or a new welcome, or because this
          // transport aborted it; `wait=0` asks for instant answers. Its
          // heartbeats are `heartbeatMs` apart by its clock, however soon the
          // poll ends (one sent while no poll waited ends the next at once):
          // a heartbeat or welcome under half that
          // after the last (a cache replaying one, same serverTime) is paced.
          // Capped at `wait` too, the pace is never slower than a healthy
          // server's, nor long for the watchdog (heartbeatMs was raised to
          // `wait`).
          const restMs = Math.min(paceMs, MAX_PACE_MS, waitSeconds * 1000) + sentAt - now();
          if (restMs > 0 && !signal.aborted && !movedOn && !(spokeAt - spokenBefore > heartbeatMs / 2)) {
            paceMs *= 2;
            // `replay()`, `update()` and `close()` abort the last poll's signal: poll now, or end.
            await new Promise<void>((resolve) => {
              const timer = timers.setTimeout(resolve, restMs);
              onAbort(signal, () => {
                timers.clearTimeout(timer);
                resolve();
              });
            });
          } else paceMs = PACE_MS;
        }
      };

      deliver(frames);
      if (welcomeId) void loop();
      return {
        async update(nextServices, nextPropertyIds): Promise<UpdateResult> {
          if (closed) throw new RealtimeError('connection_lost', 'the long-poll connection is closed');
          // Polls meanwhile ask with the new filter: one from a replay's floor
          // with the old one is answered from there without what only the new
          // one lets through, and every tab's cursor moves past that for good.
          propertyIds = nextPropertyIds;
          const result = await postUpdateServices(
            deps,
            url,
            token,
            { connectionId, services: nextServices, propertyIds: nextPropertyIds },
            lifetime.signal,
          );
          if (closed) return result;
          services = nextServices;
          if (result.cursor !== undefined) mergeCursor(cursor, result.cursor);
          inFlight?.abort();
          return result;
        },
        setToken(next) {
          token = next;
        },
        // The loop polls again with the core's cursor, lowered for the replay.
        // An answer cut off by the abort is not lost: the next poll asks from
        // before it, and the server answers from its buffer.
        replay() {
          aheadCursor = undefined;
          inFlight?.abort();
        },
        close,
      };
    },
  };
}
