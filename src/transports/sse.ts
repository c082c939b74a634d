import type { WallClock } from '../clock';
import type { RealtimeError } from '../errors';
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

/**
 * The Server-Sent Events transport, over `fetch` streaming so it can send
 * `Authorization` (an `EventSource` cannot). `connect` resolves on a 200
 * `text/event-stream` answer and rejects with the mapped `RealtimeError`
 * otherwise, so 401/403/429 reach the core with their status. Each message's
 * `data` goes to `onFrame` as text; the `welcome` frame is also read here for
 * its `connectionId`, which `update` needs for `POST /update-services`.
 */
export function sseTransport(options: SseTransportOptions, kit: TransportKit): Transport {
  // Options were checked by the exported factory (builtins.ts), not again here.
  const { abortedError, onAbort, RealtimeError } = kit;
  return {
    name: 'sse',
    async connect(ctx) {
      if (ctx.signal.aborted) throw abortedError(ctx.signal);
      const deps = httpDeps(options, kit);
      const headers: Record<string, string> = { Accept: EVENT_STREAM };
      // The cursor goes in the query and, as an EventSource would send it on a
      // reconnect, in Last-Event-ID: a server may read either.
      if (kit.hasKeys(ctx.cursor)) headers['Last-Event-ID'] = kit.encodeCursor(ctx.cursor);

      // One controller for the stream and its update POSTs: `close()` ends both.
      // Until the answer is in, an abort only cancels the request.
      const controller = new AbortController();
      const stopRequest = onAbort(ctx.signal, () => controller.abort(ctx.signal.reason));
      let response: Response;
      try {
        response = await send(
          deps,
          kit.streamUrl(ctx.url, ctx),
          ctx.token,
          { headers, signal: controller.signal },
          'event stream request',
        );
        // A refusal's body is read with the abort still linked: a server that
        // sends the headers and never ends the body would otherwise hold
        // `connect`, and its HTTP connection, past the core's timeout for good.
        if (response.status !== 200) {
          const error = await errorFromResponse(response, deps);
          throw ctx.signal.aborted ? abortedError(ctx.signal) : error;
        }
      } finally {
        stopRequest();
      }
      if (!hasContentType(response, EVENT_STREAM) || response.body === null) {
        throw unexpectedContentType(response, EVENT_STREAM, kit);
      }
      if (ctx.signal.aborted) {
        response.body.cancel().catch(() => {});
        throw abortedError(ctx.signal);
      }
      const reader = response.body.getReader();
      const maxFrameChars = options.maxFrameChars ?? DEFAULT_SSE_MAX_LINE_CHARS;
      let ended = false;
      let token = ctx.token;
      // The connection id of the first valid `welcome`: `update` waits for it (an
      // SSE connect resolves on the 200, before the first frame), and fails with
      // the connection's end when it ends first.
      let resolveWelcome!: (connectionId: string) => void;
      let rejectWelcome!: (error: RealtimeError) => void;
      const welcome = new Promise<string>((resolve, reject) => {
        resolveWelcome = resolve;
        rejectWelcome = reject;
      });
      // A connection that ends with no update waiting is not an unhandled rejection.
      welcome.catch(() => {});

      const onMessage = (message: SseMessage): void => {
        if (ended) return;
        if (message.event === 'welcome') {
          try {
            const connectionId = connectionIdOfWelcomeObject(JSON.parse(message.data));
            // Only the first welcome settles the promise: later ones change nothing.
            if (connectionId !== undefined) resolveWelcome(connectionId);
          } catch {
            // Not JSON: the core counts the frame as invalid.
          }
        }
        // Over the bound: dropped here (see the parser's bound below).
        ctx.onFrame(message.data.length > maxFrameChars ? OVERSIZED : message.data);
      };
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
      const parser = new SseParser(onMessage, {
        maxLineChars,
        // The dropped message still reaches the core, as a frame it refuses
        // and counts (`counters.invalidFrames`), as it counts an oversized
        // frame of any other transport: its text is not kept, by design.
        onOverflow: () => {
          if (!ended) ctx.onFrame(OVERSIZED);
        },
      });

      const end = (error: RealtimeError): void => {
        ended = true;
        stopListening();
        controller.abort();
        rejectWelcome(error);
      };

      const close = (): void => {
        if (ended) return;
        end(new RealtimeError('closed', 'the connection was closed'));
        reader.cancel().catch(() => {});
      };

      const readAll = async (): Promise<void> => {
        let failure: unknown;
        try {
          for (;;) {
            const { done, value } = await reader.read();
            if (done || ended) break;
            parser.push(value);
          }
        } catch (error) {
          failure = error;
        }
        if (ended) return; // closed by the core: no onClose
        const error = new RealtimeError(
          'connection_lost',
          failure === undefined ? 'the event stream ended' : 'the event stream failed',
          { cause: failure },
        );
        end(error);
        ctx.onClose({ error });
      };

      // A core abort after connect is a close, as the contract says.
      const stopListening = onAbort(ctx.signal, close);
      void readAll();

      return {
        async update(services, propertyIds): Promise<UpdateResult> {
          if (ended) throw new RealtimeError('connection_lost', 'the event stream is closed');
          const connectionId = await welcome;
          return postUpdateServices(
            deps,
            ctx.url,
            token,
            { connectionId, services, propertyIds },
            controller.signal,
          );
        },
        setToken(next) {
          token = next;
        },
        close,
      };
    },
  };
}
