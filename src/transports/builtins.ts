import { noop } from '../util/emitter';
import { unavailable } from './failures';
import { kit } from './kit';
import type { LongPollTransportOptions } from './long-poll';
import type { SseTransportOptions } from './sse';
import { validateLongPollOptions, validateSseOptions, validateWebSocketOptions } from './transport-options';
import type { Transport } from './types';
import type { WebSocketTransportOptions } from './websocket';

// The built-in transports as the package exports them. Each checks its
// options at once and loads its code on its first connect, so an app's main
// bundle holds only the core, and SSE or long-poll are downloaded only on
// the day WebSocket fails. The code is reached only through import(): a
// static path to it, even one tree-shaken away, would make esbuild put it
// back in the main chunk when splitting. What the transports need of the
// core comes with `kit` (kit.ts), never by an import of theirs: each
// transport is built into one file of its own (scripts/lazy-parts.mjs), and
// a core module it imported would be copied into that file.

/**
 * A built-in transport whose code is loaded on the first `connect`. A failed
 * load (offline, or a chunk a new deploy removed) is a `transport_unavailable`
 * error, so the chain tries the next transport, and the next connect loads
 * again.
 */
function lazyTransport(name: string, load: () => Promise<Transport>): Transport {
  let loading: Promise<Transport> | undefined;
  const loaded = (): Promise<Transport> =>
    (loading ??= load().catch((cause: unknown) => {
      loading = undefined;
      throw unavailable(`could not load the ${name} transport`, { cause });
    }));
  return {
    name,
    async connect(ctx) {
      return (await loaded()).connect(ctx);
    },
    preload() {
      // Rejects for the chain, which awaits it before it connects, and is
      // never unhandled where nothing awaits it.
      const ready = loaded();
      ready.catch(noop);
      return ready;
    },
  };
}

/**
 * The built-in transports by name, their options taken as they are: the
 * factories below check what an app passes them; `transports: ['websocket']`
 * gets the platform's pieces, which `resolveOptions` checked. So an app that
 * names its transports never downloads the checks of the factories.
 */
export const builtinTransports = {
  websocket: (options: WebSocketTransportOptions): Transport =>
    lazyTransport('websocket', async () => (await import('./websocket')).websocketTransport(options, kit)),
  sse: (options: SseTransportOptions): Transport =>
    lazyTransport('sse', async () => (await import('./sse')).sseTransport(options, kit)),
  'long-poll': (options: LongPollTransportOptions): Transport =>
    lazyTransport('long-poll', async () => (await import('./long-poll')).longPollTransport(options, kit)),
};

/**
 * The WebSocket transport: `ws(s)://…/stream`, the token in the first
 * frame (`hello`), never in the URL; `connect` resolves on the server's first
 * frame. Pass `WebSocket` where there is no global one (Node < 22: the `ws`
 * package). Options are checked now (in the default build; the `production`
 * build trusts them: docs/options.md); the code loads on the first connect.
 *
 * @throws RangeError naming the option when one is invalid (default build).
 */
export function websocketTransport(options: WebSocketTransportOptions = {}): Transport {
  // A programmer's mistake in app code: checked in the default build only.
  if (process.env.NODE_ENV !== 'production') validateWebSocketOptions(options);
  return builtinTransports.websocket(options);
}

/**
 * The Server-Sent Events transport, over `fetch` streaming so it can send
 * `Authorization` (an `EventSource` cannot); subscription changes go by
 * `POST /update-services`. Options are checked now (in the default build;
 * the `production` build trusts them: docs/options.md); the code loads on
 * the first connect.
 *
 * @throws RangeError naming the option when one is invalid (default build).
 */
export function sseTransport(options: SseTransportOptions = {}): Transport {
  // A programmer's mistake in app code: checked in the default build only.
  if (process.env.NODE_ENV !== 'production') validateSseOptions(options);
  return builtinTransports.sse(options);
}

/**
 * The long-poll transport: `GET /poll` in a loop with the connection id and
 * the cursor; a `204` counts as a heartbeat. Works through any proxy.
 * Options are checked now (in the default build; the `production` build
 * trusts them: docs/options.md); the code loads on the first connect.
 *
 * @throws RangeError naming the option when one is invalid (default build).
 */
export function longPollTransport(options: LongPollTransportOptions = {}): Transport {
  // A programmer's mistake in app code: checked in the default build only.
  if (process.env.NODE_ENV !== 'production') validateLongPollOptions(options);
  return builtinTransports['long-poll'](options);
}
