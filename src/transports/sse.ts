import type { WallClock } from '../clock';
import type { RealtimeError } from '../errors';
import type { Cursor } from '../protocol/schemas';
import { errorFromResponse, httpDeps, send } from './http-request';
import type { TransportKit } from './kit';
import {
  DEFAULT_SSE_MAX_LINE_CHARS,
  hasContentType,
  type SseMessage,
  SseParser,
  unexpectedContentType,
} from './sse-parser';
import type { Transport, UpdateResult } from './types';
import { postUpdateServices } from './update-services';
import { connectionIdOfWelcomeObject } from './welcome';

// Loaded lazily (builtins.ts): the core's classes and helpers come in `kit`,
// the core's modules are imported for their types only (see kit.ts).

/** Options of {@link sseTransport}. */
export interface SseTransportOptions {
  /** The `fetch` to use; default `globalThis.fetch` (looked up at connect time). */
  fetch?: typeof fetch;
  /**
   * Largest frame kept, in UTF-16 code units; larger ones are dropped (and
   * handed to the core as an invalid frame, to be counted). Default 16 Mi; a
   * transport named in `transports` takes the client's `maxFrameChars`.
   */
  maxFrameChars?: number;
  /** Wall clock for `Retry-After` dates; default `Date.now`. */
  now?: WallClock;
}

const EVENT_STREAM = 'text/event-stream';
// `data: `: what a frame's line holds besides the frame.
const DATA_PREFIX_CHARS = 6;
/** A message dropped for its size, as the core is told of it: a frame it refuses and counts. */
const OVERSIZED = { type: 'oversized_sse_message' };
const noop = (): void => {};

/**
 * The Server-Sent Events transport, over `fetch` streaming so it can send
 * `Authorization` (an `EventSource` cannot). `connect` resolves on a 200
 * `text/event-stream` answer and rejects with the mapped `RealtimeError`
 * otherwise, so 401/403/429 reach the core with their status. Each message's
 * `data` goes to `onFrame` as text; the `welcome` frame is also read here for
 * its `connectionId`, which `update` needs for `POST /update-services`. A
 * refreshed token (`setToken`) reopens the stream in place, from the core's
 * cursor (see `reopen`).
 */
export function sseTransport(options: SseTransportOptions, kit: TransportKit): Transport {
  // Options were checked by the exported factory (builtins.ts), not again here.
  const { abortedError, onAbort, RealtimeError } = kit;
  return {
    name: 'sse',
    async connect(ctx) {
      if (ctx.signal.aborted) throw abortedError(ctx.signal);
      const deps = httpDeps(options, kit);
      let { services, propertyIds, token } = ctx;
      // One controller for the streams and the update POSTs: `close()` ends all.
      const controller = new AbortController();

      /** `GET /stream` from `cursor`; rejects with the mapped error of any other answer than a stream. */
      const open = async (cursor: Cursor): Promise<ReadableStreamDefaultReader<Uint8Array>> => {
        const headers: Record<string, string> = { Accept: EVENT_STREAM };
        // The cursor goes in the query and, as an EventSource would send it on a
        // reconnect, in Last-Event-ID: a server may read either.
        if (kit.hasKeys(cursor)) headers['Last-Event-ID'] = kit.encodeCursor(cursor);
        const url = kit.streamUrl(ctx.url, { services, propertyIds, cursor });
        const response = await send(
          deps,
          url,
          token,
          { headers, signal: controller.signal },
          'event stream request',
        );
        if (response.status !== 200) throw await errorFromResponse(response, deps, url);
        if (!hasContentType(response, EVENT_STREAM) || response.body === null) {
          throw unexpectedContentType(response, EVENT_STREAM, kit);
        }
        return response.body.getReader();
      };

      // Until the answer is in, an abort only cancels the request. A refusal's
      // body is read with the abort still linked: a server that sends the
      // headers and never ends the body would otherwise hold `connect`, and
      // its HTTP connection, past the core's timeout for good.
      const stopRequest = onAbort(ctx.signal, () => controller.abort(ctx.signal.reason));
      let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
      try {
        reader = await open(ctx.cursor);
      } catch (error) {
        throw ctx.signal.aborted ? abortedError(ctx.signal) : error;
      } finally {
        stopRequest();
      }
      if (ctx.signal.aborted) {
        reader.cancel().catch(noop);
        throw abortedError(ctx.signal);
      }
      const maxFrameChars = options.maxFrameChars ?? DEFAULT_SSE_MAX_LINE_CHARS;
      // An oversized message is dropped like the core drops an oversized frame;
      // the gap it leaves is found by the core's gap check and replayed. The
      // bound covers a whole line, `data: ` included, so it is the frame's
      // bound plus that prefix: every frame the core accepts (up to its
      // bound, inclusive) is kept. Never below the default: it bounds every
      // line, and a batch's `id:` is the connection's whole cursor, which no
      // frame bound limits: a small frame under a long `id:` was dropped, and
      // again in the replay its gap asked for, for good. A frame over a lower
      // bound is dropped by onMessage.
      const maxLineChars = Math.min(
        Math.max(maxFrameChars, DEFAULT_SSE_MAX_LINE_CHARS) + DATA_PREFIX_CHARS,
        Number.MAX_SAFE_INTEGER,
      );
      let ended = false;
      // The connection id of the stream's first valid `welcome`: `update`
      // waits for it (an SSE connect resolves on the 200, before the first
      // frame), and fails with the connection's end when it ends first. A
      // reopened stream has its own.
      let welcome!: Promise<string>;
      let resolveWelcome!: (connectionId: string) => void;
      let rejectWelcome!: (error: RealtimeError) => void;
      const awaitWelcome = (): void => {
        welcome = new Promise<string>((resolve, reject) => {
          resolveWelcome = resolve;
          rejectWelcome = reject;
        });
        // A connection that ends with no update waiting is not an unhandled rejection.
        welcome.catch(noop);
      };
      awaitWelcome();
      // The last update, settled or not (see `reopen`).
      let updated: Promise<unknown> = Promise.resolve();
      // Reopens one after the other.
      let reopened: Promise<void> = updated as Promise<void>;

      const end = (error: RealtimeError): void => {
        ended = true;
        stopListening();
        controller.abort();
        rejectWelcome(error);
      };

      const close = (): void => {
        if (ended) return;
        end(new RealtimeError('closed', 'the connection was closed'));
        reader?.cancel().catch(noop);
      };

      /** Ends the connection for a reason of its own: the core hears of it. */
      const fail = (error: RealtimeError): void => {
        end(error);
        ctx.onClose({ error });
      };

      /** Reads `stream` as the connection's, until it ends, fails or is replaced. */
      const readAll = async (stream: ReadableStreamDefaultReader<Uint8Array>): Promise<void> => {
        reader = stream;
        // The frames of a stream no longer read (closed, or replaced) go nowhere.
        const live = (): boolean => !ended && reader === stream;
        const parser = new SseParser(
          (message: SseMessage): void => {
            if (!live()) return;
            if (message.event === 'welcome') {
              try {
                const connectionId = connectionIdOfWelcomeObject(JSON.parse(message.data));
                // Only the first welcome settles the promise: later ones change nothing.
                if (connectionId !== undefined) resolveWelcome(connectionId);
              } catch {
                // Not JSON: the core counts the frame as invalid.
              }
            }
            // Over the bound: dropped here (see the parser's bound above).
            ctx.onFrame(message.data.length > maxFrameChars ? OVERSIZED : message.data);
          },
          {
            maxLineChars,
            // The dropped message still reaches the core, as a frame it refuses
            // and counts (`counters.invalidFrames`), as it counts an oversized
            // frame of any other transport: its text is not kept, by design.
            onOverflow: () => {
              if (live()) ctx.onFrame(OVERSIZED);
            },
          },
        );
        let failure: unknown;
        try {
          for (;;) {
            const { done, value } = await stream.read();
            if (done || !live()) break;
            parser.push(value);
          }
        } catch (error) {
          failure = error;
        }
        if (!live()) return; // closed by the core, or replaced: no onClose
        fail(
          new RealtimeError(
            'connection_lost',
            failure === undefined ? 'the event stream ended' : 'the event stream failed',
            { cause: failure },
          ),
        );
      };

      /**
       * A stream sends its token once: it goes on under the token it was
       * opened with, which a server ends at its expiry (`unauthorized`, and the
       * core asks `getToken` again, as the 401 makes it throw the refreshed
       * token away). So a refreshed token reopens the stream, from the core's
       * cursor: the old one is cancelled first, its frames from then on
       * unread, so the new one replays them and none comes twice. A failure to
       * reopen ends the connection with its error, as a failed reconnect would.
       */
      const reopen = async (): Promise<void> => {
        // An update in flight went to the old stream's connection: the new one
        // is opened with the subscription it set, after the core took its
        // answer's cursor (its reaction to the update came first), and so
        // after any update that reaction asked for.
        let last: unknown;
        while (last !== updated) {
          last = updated;
          await updated.then(noop, noop);
        }
        if (ended) return;
        reader!.cancel().catch(noop);
        reader = undefined;
        // Updates from now on go to the new stream's connection.
        awaitWelcome();
        try {
          const stream = await open(ctx.getCursor!());
          if (ended) stream.cancel().catch(noop);
          else void readAll(stream);
        } catch (error) {
          if (!ended) fail(error as RealtimeError);
        }
      };

      // A core abort after connect is a close, as the contract says.
      const stopListening = onAbort(ctx.signal, close);
      void readAll(reader);

      return {
        update(nextServices, nextPropertyIds): Promise<UpdateResult> {
          const update = (async () => {
            if (ended) throw new RealtimeError('connection_lost', 'the event stream is closed');
            const connectionId = await welcome;
            const result = await postUpdateServices(
              deps,
              ctx.url,
              token,
              { connectionId, services: nextServices, propertyIds: nextPropertyIds },
              controller.signal,
            );
            services = nextServices;
            propertyIds = nextPropertyIds;
            return result;
          })();
          updated = update;
          return update;
        },
        setToken(next) {
          token = next;
          // Without `getCursor` a new stream would replay from the connect's cursor.
          if (ctx.getCursor) reopened = reopened.then(reopen);
        },
        close,
      };
    },
  };
}
