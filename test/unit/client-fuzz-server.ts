import { decodeCursor } from '../../src/protocol/cursor';
import type { Cursor } from '../../src/protocol/schemas';
import type { MemoryBackend } from '../../src/testing/memory-backend';
import type { TransportConnection } from '../../src/transports/types';

// The server behind the REAL long-poll and SSE transports in the client fuzz
// (client-fuzz.property.test.ts), as their `platform.fetch`: it reads the
// requests as a server would (the query item by item, `decodeURIComponent`
// of each), opens a connection of the memory backend per stream or first
// poll, and answers polls and streams with its frames and with the fuzzed
// frames `send` is given. So the transports build their URLs, and parse
// their answers, from fuzzed input: what another tab announced (property
// filters), what the server said (connection ids, cursors).

/** One connection at the server: a memory backend connection and what it has to send. */
interface Upstream {
  connection?: TransportConnection;
  readonly abort: AbortController;
  /** Frames for the next poll (long-poll; SSE writes them at once). */
  readonly queued: unknown[];
  ended: boolean;
  /** Wakes the held poll, or writes the queued frames to the stream. */
  wake?: () => void;
}

export interface FuzzServerOptions {
  backend: MemoryBackend;
  /** The telemetry endpoint: answered 204, its body handed to `onTelemetry`. */
  telemetryUrl: string;
  onTelemetry(body: unknown): void;
  /** Each `/stream` or `/poll` query as the server read it (for the fuzz's statistics). */
  onQuery?(query: { services: string[]; propertyIds: string[] | null }): void;
  /** A request no client should make (unknown URL, a query that does not decode). */
  fail(text: string): void;
}

export interface FuzzServer {
  readonly fetch: typeof fetch;
  /** Hands a frame, as the fuzz built it, to every live connection (text as it is). */
  send(frame: unknown): void;
  /** Poll and stream requests made so far: a client that stopped polling makes none. */
  readonly requests: number;
  /** Event streams open now. */
  readonly streams: number;
}

const abortError = () => new DOMException('aborted', 'AbortError');
const networkError = () => new TypeError('fetch failed');

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
}

/** The raw (still encoded) query parameters: a list's commas are the list's own, `%2C` an item's. */
function rawQuery(url: URL): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of url.search.slice(1).split('&')) {
    const at = part.indexOf('=');
    if (at > 0) out.set(part.slice(0, at), part.slice(at + 1));
  }
  return out;
}

/** A comma-separated list as PROTOCOL.md writes it, each item decoded; throws `URIError` on a bad escape. */
const list = (raw: string | undefined): string[] | null =>
  raw === undefined ? null : raw.split(',').map(decodeURIComponent);

/** The subscription a `/stream` or `/poll` query asks for. */
interface Subscription {
  services: string[];
  propertyIds: string[] | null;
  cursor: Cursor;
  connectionId?: string;
  wait: number;
}

function readSubscription(url: URL): Subscription {
  const query = rawQuery(url);
  const id = query.get('connectionId');
  return {
    services: list(query.get('services')) ?? [],
    propertyIds: list(query.get('propertyIds')),
    cursor: decodeCursor(query.get('cursor') ?? '') ?? {},
    ...(id !== undefined && { connectionId: decodeURIComponent(id) }),
    wait: Number(query.get('wait') ?? 0),
  };
}

/** An SSE message of one frame: its type as the event name, each line of its text a `data:` line. */
function sseMessage(frame: unknown): string {
  const text = typeof frame === 'string' ? frame : (JSON.stringify(frame) ?? 'null');
  const type = (frame as { type?: unknown } | null)?.type;
  const event = typeof type === 'string' && /^[\w.-]+$/.test(type) ? type : 'message';
  const data = text
    .split(/\r\n|\r|\n/)
    .map((line) => `data: ${line}\n`)
    .join('');
  return `event: ${event}\n${data}\n`;
}

export function createFuzzServer(options: FuzzServerOptions): FuzzServer {
  const { backend, fail } = options;
  /** By every connection id the server named in a welcome (the fuzz's welcomes rename a connection). */
  const byId = new Map<string, Upstream>();
  const live = new Set<Upstream>();
  let requests = 0;
  let streams = 0;

  const remember = (upstream: Upstream, frames: unknown[]) => {
    for (const frame of frames) {
      const { type, connectionId } = (frame ?? {}) as { type?: unknown; connectionId?: unknown };
      if (type === 'welcome' && typeof connectionId === 'string') byId.set(connectionId, upstream);
    }
  };

  /** Opens a memory backend connection; its welcome (and replay) is queued when this resolves. */
  const open = async (sub: Subscription): Promise<Upstream> => {
    const upstream: Upstream = { abort: new AbortController(), queued: [], ended: false };
    const end = () => {
      upstream.ended = true;
      live.delete(upstream);
      upstream.wake?.();
    };
    upstream.connection = await backend.transport.connect({
      url: 'memory:',
      services: sub.services,
      propertyIds: sub.propertyIds,
      cursor: sub.cursor,
      signal: upstream.abort.signal,
      onFrame: (frame) => {
        upstream.queued.push(typeof frame === 'string' ? JSON.parse(frame) : frame);
        upstream.wake?.();
      },
      onClose: end,
    });
    // The backend sends the welcome in a microtask after `connect`.
    await Promise.resolve();
    live.add(upstream);
    upstream.abort.signal.addEventListener('abort', end);
    return upstream;
  };

  const firstPoll = async (sub: Subscription): Promise<Response> => {
    const upstream = await open(sub);
    const frames = upstream.queued.splice(0);
    remember(upstream, frames);
    // No welcome (a silent backend): the client gives up on this connection.
    if (!frames.some((f) => (f as { type?: unknown } | null)?.type === 'welcome')) upstream.abort.abort();
    return json({ frames });
  };

  /** A poll of a known connection: what is queued at once, else held until something comes or `wait` ends. */
  const poll = (sub: Subscription, signal: AbortSignal | undefined): Promise<Response> => {
    const upstream = byId.get(sub.connectionId as string);
    if (!upstream || upstream.ended) return Promise.resolve(json({ message: 'unknown connection' }, 400));
    return new Promise<Response>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const settle = () => {
        clearTimeout(timer);
        upstream.wake = undefined;
        signal?.removeEventListener('abort', onAbort);
      };
      const onAbort = () => {
        settle();
        reject(abortError());
      };
      const answer = () => {
        if (upstream.ended) {
          settle();
          reject(networkError());
        } else if (upstream.queued.length > 0) {
          settle();
          const frames = upstream.queued.splice(0);
          remember(upstream, frames);
          resolve(json({ frames }));
        }
      };
      signal?.addEventListener('abort', onAbort);
      upstream.wake = answer;
      timer = setTimeout(() => {
        settle();
        resolve(new Response(null, { status: 204 }));
      }, sub.wait * 1000);
      answer();
    });
  };

  const stream = async (sub: Subscription, signal: AbortSignal | undefined): Promise<Response> => {
    const upstream = await open(sub);
    const encoder = new TextEncoder();
    streams++;
    let streaming = true;
    const finish = () => {
      if (!streaming) return;
      streaming = false;
      streams--;
      upstream.wake = undefined;
      upstream.abort.abort();
    };
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        upstream.wake = () => {
          const frames = upstream.queued.splice(0);
          remember(upstream, frames);
          for (const frame of frames) controller.enqueue(encoder.encode(sseMessage(frame)));
          if (upstream.ended) {
            finish();
            controller.close();
          }
        };
        signal?.addEventListener('abort', () => {
          if (!streaming) return;
          finish();
          controller.error(abortError());
        });
        upstream.wake();
      },
      cancel: finish,
    });
    return new Response(body, { headers: { 'Content-Type': 'text/event-stream' } });
  };

  const updateServices = async (body: unknown): Promise<Response> => {
    const { connectionId, services, propertyIds } = body as {
      connectionId: string;
      services: string[];
      propertyIds: string[] | null;
    };
    const upstream = byId.get(connectionId);
    if (!upstream?.connection || upstream.ended) return json({ message: 'unknown connection' }, 400);
    const result = await upstream.connection.update(services, propertyIds);
    return json({ cursor: result?.cursor ?? {} });
  };

  const serve = (async (input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> => {
    const url = new URL(String(input));
    const signal = init.signal ?? undefined;
    if (signal?.aborted) throw abortError();
    if (url.href === options.telemetryUrl) {
      options.onTelemetry(JSON.parse(String(init.body)));
      return new Response(null, { status: 204 });
    }
    if (url.pathname.endsWith('/update-services')) return updateServices(JSON.parse(String(init.body)));
    let sub: Subscription;
    try {
      sub = readSubscription(url);
    } catch (error) {
      fail(`the server cannot read ${url.href}: ${String(error)}`);
      return json({ message: 'bad query' }, 400);
    }
    requests++;
    options.onQuery?.(sub);
    if (url.pathname.endsWith('/stream')) return stream(sub, signal);
    if (url.pathname.endsWith('/poll'))
      return sub.connectionId === undefined ? firstPoll(sub) : poll(sub, signal);
    fail(`fetch of ${url.href}`);
    return new Response(null, { status: 404 });
  }) as typeof fetch;

  return {
    fetch: serve,
    send(frame) {
      for (const upstream of live) {
        upstream.queued.push(frame);
        upstream.wake?.();
      }
    },
    get requests() {
      return requests;
    },
    get streams() {
      return streams;
    },
  };
}
