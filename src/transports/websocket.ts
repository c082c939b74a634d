import type { RealtimeError } from '../errors';
import type { ClientFrame } from '../protocol/schemas';
import type { TransportKit } from './kit';
import type { Transport, TransportConnection } from './types';
import { closeMeaning, errorFromFirstFrame } from './websocket-codes';

// Loaded lazily (builtins.ts): the core's classes and helpers come in `kit`,
// the core's modules are imported for their types only (see kit.ts).

/** What the transport reads from the events of a socket. */
export interface WebSocketEventLike {
  readonly type: string;
  /** `message`: text, or binary as `ArrayBuffer` / `Blob` / `Buffer`. */
  readonly data?: unknown;
  /** `close`: the close code. */
  readonly code?: number;
}

/**
 * The part of the WHATWG `WebSocket` the transport uses. The browser's
 * `WebSocket`, Node 22's global one and the `ws` package's all fit.
 */
export interface WebSocketLike {
  readonly readyState: number;
  binaryType: string;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(
    type: 'open' | 'message' | 'close' | 'error',
    listener: (event: WebSocketEventLike) => void,
  ): void;
}

/** A `WebSocket` constructor: `globalThis.WebSocket` or `ws`'s `WebSocket`. */
export type WebSocketConstructorLike = new (url: string) => WebSocketLike;

/** Options of {@link websocketTransport}. */
export interface WebSocketTransportOptions {
  /** The constructor to use; default `globalThis.WebSocket` (looked up at connect time). */
  WebSocket?: WebSocketConstructorLike;
  /** Endpoint under the base URL; default `stream`. */
  path?: string;
}

// Enums, as esbuild inlines their values. `readyState` of an open socket
// (`WebSocket.OPEN`, not read off a class that may lack it).
enum ReadyState {
  Open = 1,
}
// RFC 6455 close codes: a normal closure; a close with no code (`Abnormal`).
enum CloseCode {
  Normal = 1000,
  Abnormal = 1006,
}

// One socket's life, in order: opening → awaiting the server's first frame →
// live → done. Every event handler first checks the phase, so nothing is
// reported twice and nothing after `close()`. In this order, so "not yet live"
// is `phase < Phase.Live`.
enum Phase {
  Opening,
  AwaitingFirstFrame,
  Live,
  Done,
}

/**
 * The WebSocket transport. Connects to `ws(s)://…/stream?services=…` (the
 * token travels in the first frame, `hello`, never in the URL) and resolves
 * when the server's first frame arrives, so a refused token or a revoked user
 * rejects `connect` as over HTTP. A socket that closes before that first frame
 * rejects with `transport_unavailable` unless its close code says why (4401,
 * 4403, 4429): that is how a proxy refusing the upgrade shows, and the
 * fallback chain then tries the next transport.
 *
 * Frames go to `onFrame` as they came: text as text, binary untouched (as an
 * `ArrayBuffer`) for the core to count as invalid. The server's first frame
 * may reach `onFrame` before the code awaiting `connect` runs.
 *
 * Options were checked by the exported factory (builtins.ts), which is what
 * loads this module and passes `kit`: they are not checked again.
 */
export function websocketTransport(options: WebSocketTransportOptions, kit: TransportKit): Transport {
  const { RealtimeError, abortedError, unavailable } = kit;
  return {
    name: 'websocket',
    async connect(ctx) {
      if (ctx.signal.aborted) throw abortedError(ctx.signal);
      const WebSocketClass =
        options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructorLike }).WebSocket;
      // The cursor travels in `hello` with the token, so the URL stays short.
      // The base is http: or https: (options.ts checked it), so the URL starts
      // with it, and this makes it ws: or wss: (both keep the default port).
      const url = kit.streamUrl(ctx.url, { ...ctx, cursor: undefined }, options.path).replace('http', 'ws');
      let socket: WebSocketLike;
      try {
        // No WebSocket in this environment throws here too (not a constructor).
        socket = new WebSocketClass!(url);
      } catch (error) {
        throw unavailable('could not create a WebSocket', { cause: error });
      }
      // One socket's life, from `new WebSocket` to `close`: settles `connect`
      // through `resolve`/`reject`, then reports to `ctx`.
      return new Promise<TransportConnection>((resolve, reject: (error: RealtimeError) => void) => {
        let phase: Phase = Phase.Opening;
        let token = ctx.token;
        let socketError: unknown;

        const send = (frame: ClientFrame): void => socket.send(JSON.stringify(frame));

        const shutDown = (): void => {
          phase = Phase.Done;
          stopListeningToAbort();
          try {
            socket.close(CloseCode.Normal);
          } catch {
            // Closing a socket that is already closing is not worth reporting.
          }
        };

        const fail = (error: RealtimeError): void => {
          shutDown();
          reject(error);
        };

        const isOpen = (): boolean => phase === Phase.Live && socket.readyState === ReadyState.Open;

        const connection: TransportConnection = {
          // An open socket's send does not throw, so update rejects only for a
          // socket that is not open.
          async update(services, propertyIds) {
            if (!isOpen()) throw new RealtimeError('connection_lost', 'WebSocket not open');
            send({ type: 'update', services, propertyIds });
          },
          setToken(next) {
            token = next;
            if (isOpen()) send({ type: 'auth', token: next });
          },
          close: shutDown,
        };

        // Listened to until DONE. Once live, the promise is settled and `reject`
        // does nothing: `fail` then only shuts the socket down.
        const stopListeningToAbort = kit.onAbort(ctx.signal, () => fail(abortedError(ctx.signal)));

        try {
          socket.binaryType = 'arraybuffer';
        } catch {
          // A socket class without settable binaryType passes its own binary type on.
        }

        socket.addEventListener('open', () => {
          if (phase !== Phase.Opening) return;
          phase = Phase.AwaitingFirstFrame;
          try {
            send({
              type: 'hello',
              token,
              services: ctx.services,
              propertyIds: ctx.propertyIds,
              cursor: ctx.cursor,
            });
          } catch (error) {
            fail(unavailable('could not send hello', { cause: error }));
          }
        });

        socket.addEventListener('message', (event) => {
          if (phase === Phase.AwaitingFirstFrame) {
            const refusal = errorFromFirstFrame(event.data, kit);
            if (refusal) return fail(refusal);
            phase = Phase.Live;
            resolve(connection);
          }
          if (phase === Phase.Live) ctx.onFrame(event.data as string | object);
        });

        socket.addEventListener('error', (event) => {
          // A `close` event always follows; it carries the code. Before the server's
          // first frame there is nothing to wait for: that close finds the attempt
          // failed already, so only a live socket's close reports `socketError`.
          socketError = event;
          if (phase < Phase.Live) {
            // A browser tells no status (a 404 looks like a server that is
            // down): the URL is what the message can give, without the query
            // (the base `url`'s may hold a token) or credentials.
            const { origin, pathname } = new URL(url);
            fail(
              unavailable(`WebSocket error before the server answered at ${origin}${pathname}`, {
                cause: event,
              }),
            );
          }
        });

        socket.addEventListener('close', (event) => {
          const closeCode = event.code ?? CloseCode.Abnormal;
          const meaning = closeMeaning(closeCode, kit.refusals);
          if (phase < Phase.Live) {
            // The server's refusal when the close code carries one, else
            // `transport_unavailable` (a proxy that does not pass WebSocket looks like this).
            fail(
              new RealtimeError(
                meaning.code ?? 'transport_unavailable',
                `WebSocket closed before the server answered (${closeCode})`,
                meaning,
              ),
            );
          } else if (phase === Phase.Live) {
            // Closing the closed socket again does nothing.
            shutDown();
            // The `error` event before it, if any (`undefined` is no error).
            meaning.error = socketError;
            ctx.onClose(meaning);
          }
        });
      });
    },
  };
}
