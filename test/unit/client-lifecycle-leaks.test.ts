import { IDBFactory } from 'fake-indexeddb';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { RealtimeClient } from '../../src/client';
import type { Clock } from '../../src/clock';
import type { RealtimeOptions, RealtimePlatform } from '../../src/options';
import { decodeCursor } from '../../src/protocol/cursor';
import type { Cursor, RealtimeEvent } from '../../src/protocol/schemas';
import { createFakeBrowser, type FakeBrowser } from '../../src/testing/fake-browser';
import { createMemoryBackend } from '../../src/testing/memory-backend';
import { makeEvent } from './pipeline/fixtures';

// The lifecycle the docs promise, checked in every configuration at once:
// the resources a client holds (the connection, Web Locks or the storage
// lease, BroadcastChannels, timers, window and document listeners, fetches
// and sockets) start with the first subscriber, stop `idleGraceMs` after the
// last one left, and `close()` frees all of them, whatever the client was
// doing then. Apps create a client per signed-in user and close it on
// logout: every leak here is paid once per login, for the page's life.
//
// Each row of the table opens 1 to 3 tabs of one fake browser, subscribes,
// lets them connect, publishes, then (a) unsubscribes everything and checks
// the idle tabs hold nothing but what the table names, then subscribes
// again and (b) closes the tabs (in the row's way) and checks that nothing
// at all is left, also 10 minutes later.

// ── Timers, by the line of src/ that armed them ─────────────────────────────

/** Every pending timer of the clients' clock, with the src/ file that armed it. */
const pendingTimers = new Map<unknown, string>();

/** The first src/ file (not a generic timer helper, not the fakes) on the stack. */
function timerOwner(): string {
  for (const line of (new Error().stack ?? '').split('\n')) {
    const file = /\/src\/([\w/.-]+\.ts)/.exec(line)?.[1];
    if (file && !file.startsWith('testing/') && file !== 'connection/timer.ts') return file;
  }
  return 'unknown';
}

/** The global (fake) timers, as the fake browser's clock, keeping account of what is pending. */
const trackingClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const handle: unknown = setTimeout(() => {
      pendingTimers.delete(handle);
      fn();
    }, ms);
    pendingTimers.set(handle, timerOwner());
    return handle;
  },
  clearTimeout(handle) {
    pendingTimers.delete(handle);
    clearTimeout(handle as ReturnType<typeof setTimeout>);
  },
};

const timerOwners = () => [...pendingTimers.values()].sort();

// ── Window and document listeners ────────────────────────────────────────────

/** A tab's `window` or `document` that counts the listeners added and not removed. */
class CountingTarget extends EventTarget {
  visibilityState = 'visible';
  readonly #live = new Map<string, Set<unknown>>();

  override addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: AddEventListenerOptions | boolean,
  ): void {
    // (No client listener on a window or document is `once`: each is removed by hand.)
    super.addEventListener(type, listener, options);
    if (!this.#live.has(type)) this.#live.set(type, new Set());
    this.#live.get(type)!.add(listener);
  }

  override removeEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: EventListenerOptions | boolean,
  ): void {
    super.removeEventListener(type, listener, options);
    this.#live.get(type)?.delete(listener);
  }

  /** Listeners still added, per event type (types with none left out). */
  listeners(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [type, set] of this.#live) if (set.size > 0) out[type] = set.size;
    return out;
  }
}

/** What a client listens to for its whole life, idle or not: the page lifecycle (page-lifecycle.ts). */
const LIFECYCLE_WINDOW = { online: 1, pageshow: 1, pagehide: 1 };
const LIFECYCLE_DOCUMENT = { visibilitychange: 1, freeze: 1, resume: 1 };

// ── A server behind the named transports: WebSocket, SSE and long-poll ──────

const URL_BASE = 'http://tabwire.test/v2/realtime';
const FLAGS_URL = 'http://tabwire.test/flags.json';
const TELEMETRY_URL = 'http://tabwire.test/telemetry';

/** A frame as the server sends it; a string is sent as it is (`garbage`: an invalid frame). */
type Frame = Record<string, unknown> | string;

/** A connection the server pushes frames on: a WebSocket or an event stream. */
interface PushConnection {
  id?: string;
  services: Set<string>;
  /** Per service, the last seq sent. */
  sent: Cursor;
  send(frame: Frame): void;
}

/** A long-poll connection: what it subscribes to, and the poll the server holds, if any. */
interface PollConnection {
  services: Set<string>;
  /** Per service, where it started (welcome, update): a poll whose cursor lacks a service goes on from here. */
  from: Cursor;
  /** Frames for the next poll (an invalid frame sent while none was held). */
  queued: Frame[];
  /** Wakes the held poll: it answers if something is due. */
  wake?: () => void;
}

/**
 * PROTOCOL.md's server for `platform.fetch` and `platform.WebSocket`:
 * welcome and replay from the cursor, live batches, in-place updates; the
 * flags and telemetry URLs answer at once. It keeps account of what is
 * open: sockets not closed, event streams not cancelled or aborted, held
 * polls and connects not answered or aborted.
 */
class FakeServer {
  readonly heads = new Map<string, number>();
  readonly log: RealtimeEvent[] = [];
  readonly pushed = new Set<PushConnection>();
  readonly polls = new Map<string, PollConnection>();
  /** Requests in flight and event streams still open, by what they are. */
  readonly open = new Set<string>();
  /** Sockets the client has not closed (and the server has not). */
  readonly sockets = new Set<ServerSocket>();
  fetchCalls = 0;
  socketsMade = 0;
  /** Answer no connect (no socket opens, no stream or first poll answers): clients stay `connecting`. */
  holdConnects = false;
  /** Close every socket before it opens, as a proxy that does not pass WebSocket: the chain falls back. */
  refuseSockets = false;
  /** Answer a poll with nothing new by a 204 at once, as a proxy that cuts polls short: long-poll paces itself. */
  instant204 = false;
  /** The telemetry endpoint never answers (a report in flight at close()). */
  telemetryHangs = false;
  #ids = 0;

  publish(service: string): void {
    const seq = (this.heads.get(service) ?? 0) + 1;
    this.heads.set(service, seq);
    // The clock's now: a delivery latency the SLI tabs measure stays plausible.
    const event = makeEvent(service, seq, { orgId: 'org_test', ts: Date.now(), data: { seq } });
    this.log.push(event);
    for (const connection of this.pushed) {
      if (connection.services.has(service)) this.#batch(connection, service, [event]);
    }
    for (const poll of this.polls.values()) poll.wake?.();
  }

  /** Sends a frame to every live connection. */
  sendRaw(frame: Frame): void {
    for (const connection of this.pushed) connection.send(frame);
    for (const poll of this.polls.values()) {
      poll.queued.push(frame);
      poll.wake?.();
    }
  }

  /** Open at the server: sockets, event streams, held polls and connects. */
  get openCount(): number {
    return this.sockets.size + this.open.size;
  }

  /** The welcome, then the replay of what `cursor` lacks. */
  welcome(connection: PushConnection, cursor: Cursor): void {
    connection.id = `c${++this.#ids}`;
    connection.send({
      type: 'welcome',
      connectionId: connection.id,
      serverTime: Date.now(),
      heartbeatMs: 60_000,
      cursor: this.#start(connection.services, cursor, connection.sent),
    });
    for (const service of connection.services)
      this.#batch(connection, service, this.#after(service, connection.sent));
  }

  /** Where a connection starts: the cursor where the server has it, else the head. */
  #start(services: Set<string>, cursor: Cursor, into: Cursor): Cursor {
    for (const service of services) {
      const head = this.heads.get(service) ?? 0;
      const from = cursor[service];
      into[service] = from !== undefined && from <= head ? from : head;
    }
    return { ...into };
  }

  #after(service: string, cursor: Cursor): RealtimeEvent[] {
    return this.log.filter((e) => e.service === service && e.seq > (cursor[service] ?? Infinity));
  }

  #batch(connection: PushConnection, service: string, events: RealtimeEvent[]): void {
    if (events.length === 0) return;
    const after = connection.sent[service]!;
    const last = events.at(-1)!.seq;
    connection.sent[service] = last;
    connection.send({ type: 'batch', events, after: { [service]: after }, cursor: { [service]: last } });
  }

  /** `POST /update-services`: the start cursor of the services added. */
  #update(id: string, services: string[]): Cursor | undefined {
    const connection = this.polls.get(id) ?? [...this.pushed].find((c) => c.id === id);
    if (!connection) return undefined;
    const into = 'from' in connection ? connection.from : connection.sent;
    const added = new Set(services.filter((service) => !connection.services.has(service)));
    connection.services = new Set(services);
    return this.#start(added, {}, into);
  }

  readonly fetch = (async (input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> => {
    this.fetchCalls++;
    const url = new URL(String(input));
    const signal = init.signal ?? undefined;
    if (signal?.aborted) throw new DOMException('aborted', 'AbortError');
    if (url.href === FLAGS_URL) return json({ enabled: true });
    if (url.href === TELEMETRY_URL)
      return this.telemetryHangs
        ? this.#held('telemetry report', signal)
        : new Response(null, { status: 204 });
    const services = (url.searchParams.get('services') ?? '').split(',').filter(Boolean);
    const cursor = decodeCursor(url.searchParams.get('cursor') ?? '') ?? {};
    if (url.pathname.endsWith('/update-services')) {
      const body = JSON.parse(String(init.body)) as { connectionId: string; services: string[] };
      const start = this.#update(body.connectionId, body.services);
      return start ? json({ cursor: start }) : json({ message: 'unknown connection' }, 400);
    }
    if (url.pathname.endsWith('/stream')) return this.#stream(services, cursor, signal);
    if (url.pathname.endsWith('/poll')) return this.#poll(url, services, cursor, signal);
    return new Response(null, { status: 404 });
  }) as typeof fetch;

  /** A request the server answers later (`answer` gets the function that does), or never. */
  #held(
    what: string,
    signal: AbortSignal | undefined,
    answer: (resolve: (response: Response) => void) => void = () => {},
  ): Promise<Response> {
    const key = `${what} #${++this.#ids}`;
    this.open.add(key);
    return new Promise<Response>((resolve, reject) => {
      signal?.addEventListener('abort', () => {
        if (this.open.delete(key)) reject(new DOMException('aborted', 'AbortError'));
      });
      answer((response) => {
        if (this.open.delete(key)) resolve(response);
      });
    });
  }

  #stream(services: string[], cursor: Cursor, signal: AbortSignal | undefined): Promise<Response> {
    if (this.holdConnects) return this.#held('stream request', signal);
    const key = `event stream #${++this.#ids}`;
    const encoder = new TextEncoder();
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    const connection: PushConnection = {
      services: new Set(services),
      sent: {},
      send: (frame) => {
        const text = typeof frame === 'string' ? frame : JSON.stringify(frame);
        const type = typeof frame === 'string' ? 'message' : frame.type;
        controller.enqueue(encoder.encode(`event: ${type}\ndata: ${text}\n\n`));
      },
    };
    const end = () => {
      this.open.delete(key);
      this.pushed.delete(connection);
    };
    const body = new ReadableStream<Uint8Array>({
      start: (c) => {
        controller = c;
      },
      cancel: end,
    });
    signal?.addEventListener('abort', () => {
      if (!this.open.has(key)) return;
      end();
      controller.error(new DOMException('aborted', 'AbortError'));
    });
    this.open.add(key);
    this.pushed.add(connection);
    queueMicrotask(() => {
      if (this.open.has(key)) this.welcome(connection, cursor);
    });
    return Promise.resolve(new Response(body, { headers: { 'Content-Type': 'text/event-stream' } }));
  }

  #poll(url: URL, services: string[], cursor: Cursor, signal: AbortSignal | undefined): Promise<Response> {
    const id = url.searchParams.get('connectionId');
    if (id === null) {
      if (this.holdConnects) return this.#held('first poll', signal);
      // The first poll opens the connection: its answer is the welcome and the replay.
      const frames: Frame[] = [];
      const opening: PushConnection = { services: new Set(services), sent: {}, send: (f) => frames.push(f) };
      this.welcome(opening, cursor);
      this.polls.set(opening.id!, { services: opening.services, from: opening.sent, queued: [] });
      return Promise.resolve(json({ frames }));
    }
    const connection = this.polls.get(id);
    if (!connection) return Promise.resolve(json({ message: 'unknown connection' }, 400));
    // What the poll's cursor lacks, at once; else the poll is held until something comes.
    const due = (): Frame[] => {
      const frames = connection.queued.splice(0);
      for (const service of connection.services) {
        const after = cursor[service] ?? connection.from[service]!;
        const events = this.#after(service, { [service]: after });
        if (events.length > 0)
          frames.push({
            type: 'batch',
            events,
            after: { [service]: after },
            cursor: { [service]: events.at(-1)!.seq },
          });
      }
      return frames;
    };
    const now = due();
    if (now.length > 0) return Promise.resolve(json({ frames: now }));
    if (this.instant204) return Promise.resolve(new Response(null, { status: 204 }));
    return this.#held('poll', signal, (resolve) => {
      connection.wake = () => {
        const frames = due();
        if (frames.length === 0) return;
        connection.wake = undefined;
        resolve(json({ frames }));
      };
    });
  }

  readonly WebSocket = ((server: FakeServer) =>
    class extends ServerSocket {
      constructor(url: string) {
        super(server, url);
      }
    })(this);
}

type SocketEvent = { type: string; data?: unknown; code?: number };

/** One WebSocket, as the client's `platform.WebSocket` makes it, with the server's end. */
class ServerSocket {
  readyState = 0;
  binaryType = 'blob';
  readonly url: string;
  readonly #listeners = new Map<string, ((event: SocketEvent) => void)[]>();
  readonly #server: FakeServer;
  #connection: PushConnection | undefined;

  constructor(server: FakeServer, url: string) {
    this.url = url;
    this.#server = server;
    server.socketsMade++;
    server.sockets.add(this);
    queueMicrotask(() => {
      if (server.refuseSockets) return this.close(1006);
      if (this.readyState !== 0 || server.holdConnects) return;
      this.readyState = 1;
      this.#emit({ type: 'open' });
    });
  }

  addEventListener(type: string, listener: (event: SocketEvent) => void): void {
    if (!this.#listeners.has(type)) this.#listeners.set(type, []);
    this.#listeners.get(type)!.push(listener);
  }

  send(data: string): void {
    if (this.readyState !== 1) throw new DOMException('not open', 'InvalidStateError');
    const frame = JSON.parse(data) as { type: string; services?: string[]; cursor?: Cursor };
    if (frame.type === 'hello') {
      const connection: PushConnection = {
        services: new Set(frame.services),
        sent: {},
        send: (f) => {
          const text = typeof f === 'string' ? f : JSON.stringify(f);
          queueMicrotask(() => {
            if (this.readyState === 1) this.#emit({ type: 'message', data: text });
          });
        },
      };
      this.#connection = connection;
      this.#server.pushed.add(connection);
      this.#server.welcome(connection, frame.cursor ?? {});
    } else if (frame.type === 'update' && this.#connection) {
      const added = (frame.services ?? []).filter((s) => !this.#connection!.services.has(s));
      for (const service of added) this.#connection.sent[service] = this.#server.heads.get(service) ?? 0;
      this.#connection.services = new Set(frame.services);
    }
  }

  close(code?: number): void {
    if (this.readyState >= 2) return;
    this.readyState = 3;
    this.#server.sockets.delete(this);
    if (this.#connection) this.#server.pushed.delete(this.#connection);
    queueMicrotask(() => this.#emit({ type: 'close', code: code ?? 1005 }));
  }

  #emit(event: SocketEvent): void {
    for (const listener of this.#listeners.get(event.type) ?? []) listener(event);
  }
}

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
}

/** A seeded `platform.random` (a small LCG): backoff jitter, sampling, reporter jitter. */
function seeded(seed: number): () => number {
  let state = seed * 2654435761;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

// ── The table ────────────────────────────────────────────────────────────────

/** `websocket→sse`: the default order, where no WebSocket gets through: the chain falls back to SSE. */
type TransportKind = 'memory' | 'websocket' | 'sse' | 'long-poll' | 'websocket→sse';

/**
 * How the tabs are closed at the end: `live` (connected), `connecting` (the
 * server never answers the connect), `loading` (right after subscribing,
 * before any part loaded with import() is here; also a tab created and
 * closed at once), `handler` (by a subscriber, as an event comes), `twice`
 * (close(), and close() again: the second call's promise is awaited),
 * `grace` (within idleGraceMs of the last unsubscribe), `idle` (idle since
 * (a)), `bfcache` (in the back/forward cache, which must hold no connection,
 * lock or channel either).
 */
type CloseHow = 'live' | 'connecting' | 'loading' | 'handler' | 'twice' | 'grace' | 'idle' | 'bfcache';

interface Row {
  strategy: 'locks' | 'storage' | 'none';
  transport: TransportKind;
  tabs: number;
  options?: () => Partial<RealtimeOptions>;
  platform?: () => Partial<RealtimePlatform>;
  /** Trip the rollback guard (an invalid frame) before going idle. */
  trip?: boolean;
  /**
   * Before going idle, realtime goes off: `forbidden` (the server's error
   * frame: off for good), `killSwitch` (setFlags), `failing` (the connection
   * drops and every connect fails: the circuit opens).
   */
  off?: 'forbidden' | 'killSwitch' | 'failing';
  /** Each tab tracks an optimistic mutation whose echo never comes, across idle and close(). */
  mutation?: boolean;
  /** `devtools: true`, with a global `window` for its hook. */
  devtools?: boolean;
  /** The telemetry endpoint stops answering right before close(). */
  telemetryHangs?: boolean;
  /**
   * (a) The tabs go idle one after another, the leader first: leadership
   * moves to a tab still subscribed each time, until the last one leaves.
   */
  staggered?: boolean;
  /** The server answers a poll with nothing new by a 204 at once: long-poll paces its polls on a timer. */
  pollsCutShort?: boolean;
  /** Timers an idle browser keeps, by the src/ file that armed them (the reason is in the table). */
  idleTimers?: string[];
  close?: CloseHow;
}

const IDLE_GRACE_MS = 1000;

const persistCursor = () => ({ persistCursor: true });
const indexedDB = () => ({ indexedDB: new IDBFactory() });
const flagsUrl = () => ({ flagsUrl: { url: FLAGS_URL, intervalMs: 5000 } });
const sampled = () => ({ telemetry: { sampleRate: 1, url: TELEMETRY_URL, intervalMs: 5000 } });
const measureAlways = () => ({ telemetry: { sampleRate: 0, measure: 'always' as const } });
const auth = () => ({
  // A token that expires in 20 s: the provider refreshes it every 10 s, also while the tabs are connected here.
  auth: { getToken: () => ({ token: `t${Date.now()}`, expiresAt: Date.now() + 20_000 }) },
});
const everything = () => ({ ...persistCursor(), ...flagsUrl(), ...sampled(), ...auth() });
// The guard trips at the first invalid frame, and stays off for 10 minutes.
const tripFast = () => ({ rollback: { minSamples: 1, cooldownMs: 600_000 } });
/** No BroadcastChannel: the channel falls back to localStorage (storage-channel.ts, `storage` events). */
const noBroadcastChannel = () => ({ BroadcastChannel: null });

/** A getToken that never answers while the server holds connects: close() while the loop waits for it. */
const hangingAuth = () => ({
  auth: {
    getToken: () =>
      server.holdConnects ? new Promise<never>(() => {}) : { token: 't', expiresAt: Date.now() + 60_000 },
  },
});
const MUTATION = 'optimistic/tracked-mutation.ts';

// The rollback guard's cooldown is the one timer an idle tab keeps: it ends
// the trip (and tells the state) while nothing subscribes, so a tab that
// comes back later finds realtime on (test/unit/rollback-cooldown-idle.test.ts).
// Only the tab whose guard tripped has it: the leader, or with `none` each tab.
const COOLDOWN = 'observability/rollback-guard.ts';

const rows: Record<string, Row> = {};
for (const strategy of ['locks', 'storage', 'none'] as const) {
  for (const transport of ['memory', 'websocket', 'sse', 'long-poll'] as const) {
    rows[`${strategy} · ${transport}`] = { strategy, transport, tabs: transport === 'memory' ? 3 : 2 };
  }
}
Object.assign(rows, {
  'locks · memory · persistCursor': {
    strategy: 'locks',
    transport: 'memory',
    tabs: 2,
    options: persistCursor,
    platform: indexedDB,
  },
  'storage · sse · persistCursor': {
    strategy: 'storage',
    transport: 'sse',
    tabs: 2,
    options: persistCursor,
    platform: indexedDB,
  },
  'locks · memory · flagsUrl': { strategy: 'locks', transport: 'memory', tabs: 2, options: flagsUrl },
  'none · long-poll · flagsUrl': { strategy: 'none', transport: 'long-poll', tabs: 1, options: flagsUrl },
  'locks · memory · telemetry sampled': { strategy: 'locks', transport: 'memory', tabs: 2, options: sampled },
  'storage · websocket · telemetry sampled': {
    strategy: 'storage',
    transport: 'websocket',
    tabs: 2,
    options: sampled,
  },
  "locks · memory · telemetry.measure 'always'": {
    strategy: 'locks',
    transport: 'memory',
    tabs: 2,
    options: measureAlways,
  },
  'locks · memory · sli listener': { strategy: 'locks', transport: 'memory', tabs: 2 },
  'locks · websocket · auth.getToken expiresAt': {
    strategy: 'locks',
    transport: 'websocket',
    tabs: 2,
    options: auth,
  },
  'none · sse · auth.getToken expiresAt': { strategy: 'none', transport: 'sse', tabs: 1, options: auth },
  'locks · memory · auth.getToken expiresAt': {
    strategy: 'locks',
    transport: 'memory',
    tabs: 2,
    options: auth,
  },
  'storage · memory · no BroadcastChannel': {
    strategy: 'storage',
    transport: 'memory',
    tabs: 3,
    platform: noBroadcastChannel,
  },
  'locks · memory · rollback tripped': {
    strategy: 'locks',
    transport: 'memory',
    tabs: 2,
    options: tripFast,
    trip: true,
    // The tab that led after the tripped one took its trip over (and its
    // cooldown's timer), rather than connect into the failing server.
    idleTimers: [COOLDOWN, COOLDOWN],
  },
  'none · websocket · rollback tripped': {
    strategy: 'none',
    transport: 'websocket',
    tabs: 2,
    options: tripFast,
    trip: true,
    idleTimers: [COOLDOWN, COOLDOWN],
  },
  'storage · long-poll · rollback tripped': {
    strategy: 'storage',
    transport: 'long-poll',
    tabs: 2,
    options: tripFast,
    trip: true,
    idleTimers: [COOLDOWN],
  },
  'locks · memory · close() while connecting': {
    strategy: 'locks',
    transport: 'memory',
    tabs: 2,
    close: 'connecting',
  },
  'storage · websocket · close() while connecting': {
    strategy: 'storage',
    transport: 'websocket',
    tabs: 2,
    close: 'connecting',
    options: auth,
  },
  'none · sse · close() while connecting': {
    strategy: 'none',
    transport: 'sse',
    tabs: 2,
    close: 'connecting',
  },
  'locks · long-poll · close() while connecting': {
    strategy: 'locks',
    transport: 'long-poll',
    tabs: 2,
    close: 'connecting',
  },
  'locks · memory · everything · close() while loading': {
    strategy: 'locks',
    transport: 'memory',
    tabs: 2,
    close: 'loading',
    options: everything,
    platform: indexedDB,
  },
  'storage · websocket · everything · close() while loading': {
    strategy: 'storage',
    transport: 'websocket',
    tabs: 2,
    close: 'loading',
    options: everything,
    platform: () => ({ ...indexedDB(), ...noBroadcastChannel() }),
  },
  'none · sse · everything · close() while loading': {
    strategy: 'none',
    transport: 'sse',
    tabs: 1,
    close: 'loading',
    options: everything,
    platform: indexedDB,
  },
  'locks · memory · persistCursor · close() in a handler': {
    strategy: 'locks',
    transport: 'memory',
    tabs: 2,
    close: 'handler',
    options: persistCursor,
    platform: indexedDB,
  },
  'none · websocket · everything · close() in a handler': {
    strategy: 'none',
    transport: 'websocket',
    tabs: 1,
    close: 'handler',
    options: everything,
    platform: indexedDB,
  },
  'locks · long-poll · close() in a handler': {
    strategy: 'locks',
    transport: 'long-poll',
    tabs: 2,
    close: 'handler',
  },
  'locks · memory · close() within idleGraceMs': {
    strategy: 'locks',
    transport: 'memory',
    tabs: 2,
    close: 'grace',
    options: everything,
    platform: indexedDB,
  },
  'none · long-poll · close() within idleGraceMs': {
    strategy: 'none',
    transport: 'long-poll',
    tabs: 1,
    close: 'grace',
    options: everything,
    platform: indexedDB,
  },
  'storage · websocket · everything · close() while idle': {
    strategy: 'storage',
    transport: 'websocket',
    tabs: 2,
    close: 'idle',
    options: everything,
    platform: indexedDB,
  },
  'locks · memory · rollback tripped · close() while idle': {
    strategy: 'locks',
    transport: 'memory',
    tabs: 2,
    options: tripFast,
    trip: true,
    // The tab that led after the tripped one took its trip over (and its
    // cooldown's timer), rather than connect into the failing server.
    idleTimers: [COOLDOWN, COOLDOWN],
    close: 'idle',
  },
  'locks · sse · everything · close() in the back/forward cache': {
    strategy: 'locks',
    transport: 'sse',
    tabs: 2,
    close: 'bfcache',
    options: everything,
    platform: indexedDB,
  },
  'none · websocket · close() in the back/forward cache': {
    strategy: 'none',
    transport: 'websocket',
    tabs: 1,
    close: 'bfcache',
  },
  'storage · memory · close() in the back/forward cache': {
    strategy: 'storage',
    transport: 'memory',
    tabs: 2,
    close: 'bfcache',
    platform: noBroadcastChannel,
  },
  'locks · memory · idle one tab after another': {
    strategy: 'locks',
    transport: 'memory',
    tabs: 3,
    staggered: true,
  },
  'storage · websocket · idle one tab after another': {
    strategy: 'storage',
    transport: 'websocket',
    tabs: 3,
    staggered: true,
    options: everything,
    platform: indexedDB,
  },
  'locks · long-poll · idle one tab after another': {
    strategy: 'locks',
    transport: 'long-poll',
    tabs: 2,
    staggered: true,
    options: auth,
  },
  'storage · sse · idle one tab after another': {
    strategy: 'storage',
    transport: 'sse',
    tabs: 2,
    staggered: true,
    platform: noBroadcastChannel,
  },
  'locks · memory · forbidden': { strategy: 'locks', transport: 'memory', tabs: 2, off: 'forbidden' },
  'none · sse · forbidden': {
    strategy: 'none',
    transport: 'sse',
    tabs: 1,
    off: 'forbidden',
    options: everything,
    platform: indexedDB,
  },
  'storage · websocket · kill switch': {
    strategy: 'storage',
    transport: 'websocket',
    tabs: 2,
    off: 'killSwitch',
    options: flagsUrl,
  },
  'locks · memory · connects failing, circuit open': {
    strategy: 'locks',
    transport: 'memory',
    tabs: 2,
    off: 'failing',
  },
  'locks · long-poll · polls cut short (paced)': {
    strategy: 'locks',
    transport: 'long-poll',
    tabs: 2,
    pollsCutShort: true,
  },
  'locks · websocket→sse': { strategy: 'locks', transport: 'websocket→sse', tabs: 2 },
  'none · websocket→sse · close() while connecting': {
    strategy: 'none',
    transport: 'websocket→sse',
    tabs: 1,
    close: 'connecting',
  },
  // A pending mutation's timeout outlives idle (the app asked for it: it settles `timed_out` then); close() cancels it.
  'locks · memory · trackMutation pending': {
    strategy: 'locks',
    transport: 'memory',
    tabs: 2,
    mutation: true,
    idleTimers: [MUTATION, MUTATION],
  },
  'locks · sse · auth.getToken hanging · close() while connecting': {
    strategy: 'locks',
    transport: 'sse',
    tabs: 2,
    close: 'connecting',
    options: hangingAuth,
  },
  // window.__realtimeState stays installed after close() (a function on the
  // page's window, as installDevtools leaves it): it shows the clients still
  // open, and a closed one no more (nothing of it is kept).
  'locks · memory · devtools': { strategy: 'locks', transport: 'memory', tabs: 2, devtools: true },
  // The last report, sent by close() (the page lives on: by fetch, so its
  // failure is counted), is left to finish: with an endpoint that does not
  // answer, its request and timeout (intervalMs here, at most 30 s) outlive
  // close() until then. By design (sli-reporter.ts); checked to end.
  'locks · memory · telemetry sampled · endpoint hangs at close()': {
    strategy: 'locks',
    transport: 'memory',
    tabs: 2,
    options: sampled,
    telemetryHangs: true,
  },
  'locks · memory · close() twice': { strategy: 'locks', transport: 'memory', tabs: 2, close: 'twice' },
  'storage · sse · everything · close() twice': {
    strategy: 'storage',
    transport: 'sse',
    tabs: 2,
    close: 'twice',
    options: everything,
    platform: indexedDB,
  },
  'locks · websocket · everything': {
    strategy: 'locks',
    transport: 'websocket',
    tabs: 3,
    options: everything,
    platform: indexedDB,
  },
  'storage · long-poll · everything': {
    strategy: 'storage',
    transport: 'long-poll',
    tabs: 2,
    options: everything,
    platform: indexedDB,
  },
} satisfies Record<string, Row>);

// ── The run ──────────────────────────────────────────────────────────────────

let browser: FakeBrowser;
let server: FakeServer;

beforeEach(() => {
  vi.useFakeTimers();
  pendingTimers.clear();
  server = new FakeServer();
  browser = createFakeBrowser({ backend: createMemoryBackend({ heartbeatMs: 60_000 }) });
});
afterEach(async () => {
  await browser.close();
  vi.unstubAllGlobals();
  vi.useRealTimers();
});

/** Lets the parts loaded with import() arrive (fake timers do not drive them), then `ms` pass. */
async function settle(ms: number): Promise<void> {
  await vi.dynamicImportSettled();
  await vi.advanceTimersByTimeAsync(ms);
  await vi.dynamicImportSettled();
}

async function until(check: () => boolean, what: string): Promise<void> {
  for (let waited = 0; !check(); waited += 100) {
    if (waited > 30_000) throw new Error(`still not ${what} after 30 s`);
    await settle(100);
  }
}

interface Tab {
  client: RealtimeClient;
  window: CountingTarget;
  document: CountingTarget;
  seen: number[];
}

function openTab(row: Row, index: number): Tab {
  const window = new CountingTarget();
  const document = new CountingTarget();
  const transports =
    row.transport === 'memory'
      ? [browser.backend.transport]
      : row.transport === 'websocket→sse'
        ? (['websocket', 'sse'] as const)
        : [row.transport];
  const client = browser.tab({
    url: URL_BASE,
    leader: { strategy: row.strategy },
    transports: [...transports],
    idleGraceMs: IDLE_GRACE_MS,
    devtools: !!row.devtools,
    ...row.options?.(),
    platform: {
      clock: trackingClock,
      random: seeded(index + 1),
      fetch: server.fetch,
      WebSocket: server.WebSocket,
      window,
      document,
      ...row.platform?.(),
    },
  });
  return { client, window, document, seen: [] };
}

function publish(row: Row): void {
  if (row.transport === 'memory') browser.backend.publish({ service: 'tasks' });
  else server.publish('tasks');
}

/** Connections open at the backend (memory) or the server: sockets, streams, held polls. */
function openAtBackend(row: Row): number {
  return row.transport === 'memory' ? browser.backend.connectionCount : server.openCount;
}

/** No connection, no lock held or asked for, no lease, no channel. */
async function expectNothingShared(row: Row): Promise<void> {
  expect(openAtBackend(row)).toBe(0);
  expect([...server.open].filter((what) => !what.startsWith('telemetry report'))).toEqual([]);
  expect(await browser.locks.query()).toEqual({ held: [], pending: [] });
  const keys = Array.from({ length: browser.storage.length }, (_, i) => browser.storage.key(i));
  expect(keys.filter((key) => key?.endsWith(':lease'))).toEqual([]);
  expect(browser.channels.openChannels()).toBe(0);
}

/** (a) Idle: nothing shared; only the named timers, only the lifecycle listeners. */
async function expectIdle(row: Row, tabs: Tab[]): Promise<void> {
  // A tab whose own guard tripped stays off; a follower that mirrored the
  // leader's trip may still show it (the status only: it holds nothing).
  for (const { client } of tabs) {
    const { status, rollback } = client.getState();
    if (rollback.state === 'tripped') expect(status).toBe('disabled');
    else if (row.off === 'forbidden' || row.off === 'killSwitch') expect(status).toBe('disabled');
    else expect(status).toBe(row.trip && status === 'disabled' ? 'disabled' : 'idle');
  }
  await expectNothingShared(row);
  expect(timerOwners()).toEqual(row.idleTimers ?? []);
  // Nothing else on the fake timers either (a transport or a part on the global ones).
  expect(vi.getTimerCount()).toBe(pendingTimers.size);
  for (const tab of tabs) {
    expect(tab.window.listeners()).toEqual(LIFECYCLE_WINDOW);
    expect(tab.document.listeners()).toEqual(LIFECYCLE_DOCUMENT);
  }
}

/**
 * (b) Closed: nothing at all. `lingering`: the reports close() sent to a
 * telemetry endpoint that does not answer, each with its timeout.
 */
async function expectClosed(row: Row, tabs: Tab[], lingering = 0): Promise<void> {
  expect(timerOwners()).toEqual(Array(lingering).fill('observability/sli-reporter.ts'));
  expect(vi.getTimerCount()).toBe(lingering);
  expect(server.open.size).toBe(lingering);
  for (const tab of tabs) {
    expect(tab.client.getState().status).toBe('closed');
    expect(tab.window.listeners()).toEqual({});
    expect(tab.document.listeners()).toEqual({});
  }
  await expectNothingShared(row);
  if (row.devtools) {
    // The hook stays (see the table); it keeps no closed client.
    expect((globalThis.window as { __realtimeState?: () => unknown }).__realtimeState?.()).toBeUndefined();
  }
}

describe('resources of the client, idle and closed', () => {
  it.each(Object.entries(rows))('%s', async (name, row) => {
    if (row.devtools) vi.stubGlobal('window', new EventTarget());
    const tabs = Array.from({ length: row.tabs }, (_, i) => openTab(row, i));
    if (name.includes('sli listener')) for (const { client } of tabs) client.on('sli', () => {});
    if (row.transport === 'websocket→sse') server.refuseSockets = true;
    server.instant204 = !!row.pollsCutShort;
    const subscribeAll = (onEvent?: (tab: Tab) => void) =>
      tabs.map((tab) =>
        tab.client.subscribe('tasks', (events) => {
          tab.seen.push(...events.map((e) => e.seq));
          onEvent?.(tab);
        }),
      );

    // Connected, and the events flow (the configuration works at all).
    let offs = subscribeAll();
    const connected = () => tabs.every(({ client }) => client.getState().status === 'connected');
    // Every tab still subscribed connected (the idle ones are not).
    const connected2 = () =>
      tabs.every(({ client }) => ['connected', 'idle'].includes(client.getState().status));
    await until(connected, 'connected');
    for (let i = 0; i < 3; i++) publish(row);
    await until(() => tabs.every((tab) => tab.seen.length === 3), 'delivered');
    expect(tabs.map((tab) => tab.seen)).toEqual(tabs.map(() => [1, 2, 3]));
    if (row.transport === 'websocket→sse') expect(browser.leaders()[0]?.getState().transport).toBe('sse');
    if (row.devtools) {
      const shown = (globalThis.window as { __realtimeState?: () => unknown }).__realtimeState?.();
      expect(shown).toHaveLength(tabs.length);
    }
    if (row.mutation) for (const { client } of tabs) client.trackMutation('m_never', { timeoutMs: 120_000 });
    // Past the SLI tick, the needs refresh, the reporter's and the poller's intervals.
    await settle(12_000);
    if (row.pollsCutShort) expect(timerOwners()).toContain('transports/long-poll.ts');

    if (row.off === 'forbidden') {
      if (row.transport === 'memory') browser.backend.error('forbidden');
      else server.sendRaw({ type: 'error', code: 'forbidden', message: 'gone' });
      await until(() => tabs.every(({ client }) => client.getState().status === 'disabled'), 'forbidden');
    } else if (row.off === 'killSwitch') {
      tabs[0]!.client.setFlags({ enabled: false });
      await until(() => tabs.every(({ client }) => client.getState().status === 'disabled'), 'switched off');
    } else if (row.off === 'failing') {
      browser.backend.failNextConnects(1000);
      browser.backend.drop();
      await until(() => browser.leaders()[0]?.getState().circuit.state === 'open', 'circuit open');
    }
    if (row.trip) {
      if (row.transport === 'memory') browser.backend.sendRaw('garbage');
      else server.sendRaw('garbage');
      await until(() => tabs.some(({ client }) => client.getState().rollback.state === 'tripped'), 'tripped');
    }

    // (a) Every subscriber gone: idle after idleGraceMs (and the lease's takeover time).
    if (row.staggered) {
      // The leader first, then whichever tab leads next: each goes idle while others still want events.
      for (let left = tabs.length; left > 1; left--) {
        const leader = browser.leaders()[0]!;
        offs[tabs.findIndex((tab) => tab.client === leader)]!();
        await until(() => leader.getState().status === 'idle', 'the leader idle');
        await until(
          () => tabs.some((tab) => tab.client !== leader && tab.client.getState().isLeader) && connected2(),
          'another tab leading',
        );
      }
    }
    for (const off of offs) off();
    await settle(IDLE_GRACE_MS + 3000 + 1000);
    await expectIdle(row, tabs);

    // (b) Back (but for `idle`), then closed.
    const closing: Promise<void>[] = [];
    const how = row.close ?? 'live';
    if (how === 'connecting') {
      if (row.transport === 'memory') browser.backend.silence(true);
      else server.holdConnects = true;
    }
    if (how !== 'idle')
      offs = subscribeAll(how === 'handler' ? (tab) => closing.push(tab.client.close()) : undefined);
    if (how === 'loading') {
      // Before any part loaded with import() is here: the transport, the
      // token provider, the lease, the storage channel, the cursor store; and
      // for a tab just created, measuring, the reporter and the flags poller.
      const fresh = openTab(row, tabs.length);
      fresh.client.subscribe('tasks', () => {});
      tabs.push(fresh);
      closing.push(...tabs.map(({ client }) => client.close()));
    } else if (how === 'connecting') {
      const connects = browser.backend.connectCount;
      await settle(1000);
      if (row.transport === 'memory') expect(browser.backend.connectCount).toBeGreaterThan(connects);
      expect(tabs.map(({ client }) => client.getState().status)).not.toContain('connected');
    } else if (how === 'idle' || row.trip || row.off) {
      await settle(1000);
    } else {
      await until(connected, 'connected again');
    }

    if (how === 'handler') {
      publish(row);
      await until(() => closing.length === tabs.length, 'closed by the handlers');
    } else if (how === 'twice') {
      for (const { client } of tabs) void client.close();
      closing.push(...tabs.map(({ client }) => client.close()));
    } else if (how === 'grace') {
      for (const off of offs) off();
      await settle(IDLE_GRACE_MS / 2);
      closing.push(...tabs.map(({ client }) => client.close()));
    } else if (how === 'bfcache') {
      // Into the back/forward cache: the page keeps its subscribers, holds nothing shared.
      for (const { window } of tabs)
        window.dispatchEvent(Object.assign(new Event('pagehide'), { persisted: true }));
      await settle(1000);
      await expectNothingShared(row);
      closing.push(...tabs.map(({ client }) => client.close()));
    } else if (how !== 'loading') {
      if (row.telemetryHangs) server.telemetryHangs = true;
      closing.push(...tabs.map(({ client }) => client.close()));
    }
    // close() flushes the cursor store: with persistCursor a write may be
    // due (the welcome of the connection just made stores its cursor), and
    // fake-indexeddb runs it, and the closing of its connection, on the
    // fake timers. A few ms of them, no more: a part's timer left on the
    // global ones must still show below.
    let closed = false;
    void Promise.all(closing).then(() => {
      closed = true;
    });
    for (let ms = 0; ms < 20 && (!closed || vi.getTimerCount() > pendingTimers.size); ms++)
      await vi.advanceTimersByTimeAsync(1);
    await Promise.all(closing);
    const lingering = row.telemetryHangs ? tabs.length : 0;
    await expectClosed(row, tabs, lingering);
    if (lingering) {
      // Until the report's timeout (intervalMs 5000 here): then nothing.
      await settle(5000);
      await expectClosed(row, tabs);
    }

    // And nothing starts again later: no request, no socket, no connect, no timer.
    const before = [server.fetchCalls, server.socketsMade, browser.backend.connectCount];
    await settle(600_000);
    expect([server.fetchCalls, server.socketsMade, browser.backend.connectCount]).toEqual(before);
    await expectClosed(row, tabs);
  });
});
