import type { WallClock } from '../clock';
import type { RealtimeError } from '../errors';
import { hasContentType } from './http-errors';
import { errorFromResponse, type HttpDeps, httpDeps, send, unexpectedContentType } from './http-request';
import type { TransportKit } from './kit';
import { DEFAULT_SSE_MAX_LINE_CHARS, type SseMessage, SseParser } from './sse-parser';
import type { Transport, TransportConnection, TransportContext, UpdateResult } from './types';
import { postUpdateServices } from './update-services';
import { connectionIdOfWelcome, WelcomeWaiters } from './welcome';

// Loaded lazily (builtins.ts): the core's classes and helpers come in `kit`,
// the core's modules are imported for their types only (see kit.ts).

/** Options of {@link sseTransport}. */
export interface SseTransportOptions {
  /** The `fetch` to use; default `globalThis.fetch` (looked up at connect time). */
  fetch?: typeof fetch;
  /** Largest SSE message kept, in UTF-16 code units; larger ones are dropped. Default 16 Mi. */
  maxFrameChars?: number;
  /** Wall clock for `Retry-After` dates; default `Date.now`. */
  now?: WallClock;
}

const EVENT_STREAM = 'text/event-stream';

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
  return {
    name: 'sse',
    connect: (ctx) => connectSse(ctx, options, kit),
  };
}

async function connectSse(
  ctx: TransportContext,
  options: SseTransportOptions,
  kit: TransportKit,
): Promise<TransportConnection> {
  const { abortedError, onAbort } = kit;
  if (ctx.signal.aborted) throw abortedError(ctx.signal);
  const deps = httpDeps(options, kit);
  const headers: Record<string, string> = { Accept: EVENT_STREAM };
  // The cursor goes in the query and, as an EventSource would send it on a
  // reconnect, in Last-Event-ID: a server may read either.
  if (kit.hasKeys(ctx.cursor)) headers['Last-Event-ID'] = kit.encodeCursor(ctx.cursor);

  // One controller for the stream and its update POSTs: `close()` ends both.
  // Until the answer is in, an abort only cancels the request.
  const controller = new AbortController();
  const stopListening = onAbort(ctx.signal, () => controller.abort(ctx.signal.reason));
  let response: Response;
  try {
    response = await send(
      deps,
      kit.streamUrl(ctx.url, ctx),
      ctx.token,
      { headers, signal: controller.signal },
      'event stream request',
    );
  } finally {
    stopListening();
  }
  if (response.status !== 200) throw await errorFromResponse(response, deps);
  if (!hasContentType(response, EVENT_STREAM) || response.body === null) {
    throw unexpectedContentType(response, EVENT_STREAM, kit);
  }
  if (ctx.signal.aborted) {
    response.body.cancel().catch(() => {});
    throw abortedError(ctx.signal);
  }
  return openStream(ctx, response.body.getReader(), controller, deps, options.maxFrameChars);
}

function openStream(
  ctx: TransportContext,
  reader: ReadableStreamDefaultReader<Uint8Array>,
  controller: AbortController,
  deps: HttpDeps,
  maxFrameChars = DEFAULT_SSE_MAX_LINE_CHARS,
): TransportConnection {
  const { RealtimeError } = deps.kit;
  let ended = false;
  let token = ctx.token;
  let connectionId: string | undefined;
  const welcomeWaiters = new WelcomeWaiters();

  const onMessage = (message: SseMessage): void => {
    if (ended) return;
    if (connectionId === undefined && message.event === 'welcome') {
      connectionId = connectionIdOfWelcome(message.data);
      if (connectionId !== undefined) welcomeWaiters.resolve(connectionId);
    }
    ctx.onFrame(message.data);
  };
  // An oversized message is dropped like the core drops an oversized frame;
  // the gap it leaves is found by the core's gap check and replayed.
  const parser = new SseParser(onMessage, { maxLineChars: maxFrameChars });

  const end = (error: RealtimeError): void => {
    ended = true;
    stopListening();
    controller.abort();
    welcomeWaiters.reject(error);
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
    parser.end();
    const error = new RealtimeError(
      'connection_lost',
      failure === undefined ? 'the event stream ended' : 'the event stream failed',
      { cause: failure },
    );
    end(error);
    ctx.onClose({ error });
  };

  // A core abort after connect is a close, as the contract says.
  const stopListening = deps.kit.onAbort(ctx.signal, close);
  void readAll();

  return {
    async update(services, propertyIds): Promise<UpdateResult> {
      if (ended) throw new RealtimeError('connection_lost', 'the event stream is closed');
      const id = connectionId ?? (await welcomeWaiters.wait());
      return postUpdateServices({
        ...deps,
        url: ctx.url,
        token,
        connectionId: id,
        services,
        propertyIds,
        signal: controller.signal,
      });
    },
    setToken(next) {
      token = next;
    },
    close,
  };
}
