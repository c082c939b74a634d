import { RealtimeError } from '../errors';
import type { Cursor, RealtimeEvent, ServerFrame } from '../protocol/schemas';
import type { Transport, TransportConnection, TransportContext } from '../transports/types';
import { MAX_TIMER_DELAY_MS } from '../util/timers';
import { group } from '../util/validate';

/** An event as a test publishes it: the backend fills in seq, ts, orgId and eventId. */
export interface MemoryEventInput {
  service: string;
  entityType?: string;
  type?: string;
  eventId?: string;
  propertyId?: string | null;
  mutationId?: string;
  data?: unknown;
  ts?: number;
}

/** Options of {@link createMemoryBackend}. */
export interface MemoryBackendOptions {
  orgId?: string;
  /** The welcome's `heartbeatMs` and the heartbeat interval: a positive integer up to 2147483647, the timers' bound (default 30000). */
  heartbeatMs?: number;
  /** Server time; default `Date.now` (looked up at each call, so fake timers installed later apply). */
  now?: () => number;
}

// Every key of MemoryBackendOptions, for the unknown-key check of createMemoryBackend.
const MEMORY_BACKEND_KEYS: Record<keyof MemoryBackendOptions, true> = {
  orgId: true,
  heartbeatMs: true,
  now: true,
};

interface LiveConnection {
  id: string;
  ctx: TransportContext;
  services: Set<string>;
  propertyIds: string[] | null;
  sent: Cursor;
  open: boolean;
  /** Welcome sent: live frames flow from here on (before it they wait in the replay). */
  welcomed: boolean;
  heartbeat?: ReturnType<typeof setInterval>;
}

/**
 * An in-memory backend that speaks PROTOCOL.md frames to tabwire's core
 * through a {@link Transport}. Tests publish events, and inject gaps, resets,
 * errors and drops, without a network. Like a server, a connection gets its
 * `welcome` (in a microtask after `connect`) before anything else: what is
 * published meanwhile comes in the replay that follows the welcome, and a
 * service whose cursor is ahead of the head gets a `reset` (`epoch_changed`)
 * there instead, as from the dev server. From then on, frames are delivered
 * synchronously.
 */
export interface MemoryBackend {
  /** Give this to `createRealtime({ transports: [backend.transport] })`. */
  readonly transport: Transport;
  /** Live connections (normally 0 or 1 per client). */
  readonly connectionCount: number;
  /** Connects ever attempted, those {@link MemoryBackend.failNextConnects} refused included. */
  readonly connectCount: number;
  /** Publishes one event to every live connection subscribed to its service. */
  publish(event: MemoryEventInput): RealtimeEvent;
  /** Publishes several events of one service as one batch. */
  publishBatch(events: MemoryEventInput[]): RealtimeEvent[];
  /**
   * Advances a service's seq by `count` without events: those seqs never
   * exist. Each connection's next batch continues from what it received
   * (`after`), so a client sees no gap, as when a server's filter withheld
   * them. For a gap the server cannot fill, follow with `reset`.
   * Throws a RangeError for a count that is no whole number ≥ 0.
   */
  skip(service: string, count: number): void;
  /**
   * Sends a `reset` for the services (seqs continue from the current head)
   * to every live connection that streams any of them, naming only those.
   */
  reset(services: string[], reason?: string): void;
  /**
   * Sends an `error` frame to every live connection, as a server does:
   * `unauthorized` (the client refreshes its token), `forbidden` (realtime
   * stops for good), `overloaded` or `bad_request` (transient).
   */
  error(
    code: 'unauthorized' | 'forbidden' | 'bad_request' | 'overloaded',
    message?: string,
    retryAfterMs?: number,
  ): void;
  /** Sends a raw frame (object or text) to every live connection. */
  sendRaw(frame: ServerFrame | object | string): void;
  /** Ends every live connection as a network drop would. */
  drop(status?: number): void;
  /**
   * The next `count` connects (`Infinity`: every one) fail with this error
   * (default: a transport failure). Throws a RangeError for a count that is
   * no whole number ≥ 0.
   */
  failNextConnects(count: number, error?: RealtimeError): void;
  /**
   * The next `count` batch frames (`Infinity`: every one) are lost on the
   * wire (the server thinks it sent them): a gap. Throws a RangeError for a
   * count that is no whole number ≥ 0.
   */
  loseNextBatches(count: number): void;
  /** Send no welcome and no heartbeats while silent (connect timeouts, dead connections). */
  silence(silent: boolean): void;
  /** Every event published so far, per service. */
  log(service: string): RealtimeEvent[];
}

/**
 * A count of `failNextConnects` or `loseNextBatches`: whole and ≥ 0, or
 * `Infinity`. Anything else did not do what the test meant: a fraction
 * acted as the next integer, and -1 or NaN did nothing, so a test of a
 * failure or a gap passed without one.
 */
function checkCount(method: string, count: number): void {
  if (!(count >= 0) || !(Number.isInteger(count) || count === Number.POSITIVE_INFINITY))
    throw new RangeError(`${method} needs a whole count ≥ 0 (or Infinity), got ${count}`);
}

/**
 * Creates a {@link MemoryBackend}.
 *
 * @throws RangeError for a key of `options` that is no option (a misspelt
 *   one), naming it and listing the known ones, and for a `heartbeatMs`
 *   that is no positive integer (the client would refuse every welcome) or
 *   is past the timers' bound of 2147483647 ms (the interval would fire
 *   every 1 ms).
 */
export function createMemoryBackend(options: MemoryBackendOptions = {}): MemoryBackend {
  // A misspelt key (`heartbeat` for `heartbeatMs`) would silently take the
  // default: refused, as createRealtime refuses one.
  group(options, '', MEMORY_BACKEND_KEYS, 'a createMemoryBackend option');
  const orgId = options.orgId ?? 'org_test';
  const heartbeatMs = options.heartbeatMs ?? 30_000;
  // Every welcome carries it, and the client refuses a welcome whose
  // heartbeatMs is no positive integer: with 0 ("no heartbeats"?) every
  // tab would stay unwelcomed, counting invalid frames, never connected.
  // Past the timers' bound, setInterval (Node's and vi.useFakeTimers')
  // fires every 1 ms: a huge value meant as "none" sent one every ms.
  if (!Number.isSafeInteger(heartbeatMs) || heartbeatMs <= 0 || heartbeatMs > MAX_TIMER_DELAY_MS) {
    throw new RangeError(
      `createMemoryBackend: heartbeatMs must be a positive integer up to ${MAX_TIMER_DELAY_MS} (the timers' bound), got ${heartbeatMs}`,
    );
  }
  // Date.now looked up at each call, not taken now: a backend created before
  // vi.useFakeTimers() (at a file's top) must stamp ts and serverTime with
  // the clock the tabs read, as the fake browser's clock does.
  const now = options.now ?? (() => Date.now());
  const logs = new Map<string, RealtimeEvent[]>();
  const heads = new Map<string, number>();
  const live = new Set<LiveConnection>();
  let connectCount = 0;
  let nextEventId = 1;
  // A count and one error, not a list of errors: "down for good" is
  // failNextConnects(Infinity), or a count in the millions, which a list
  // (one Error, stack and all, per failure) took seconds to build.
  let failuresLeft = 0;
  let failureError: RealtimeError | undefined;
  let silent = false;
  let batchesToLose = 0;

  const head = (service: string) => heads.get(service) ?? 0;

  const deliver = (conn: LiveConnection, service: string, events: RealtimeEvent[], last: number) => {
    if (!conn.open || !conn.welcomed || !conn.services.has(service)) return;
    const visible = conn.propertyIds
      ? events.filter((e) => e.propertyId == null || conn.propertyIds?.includes(e.propertyId))
      : events;
    // Like the dev server: nothing sent for a batch the filter emptied, so the
    // next batch's `after` is still what this connection last received.
    if (visible.length === 0) return;
    const after = conn.sent[service] ?? 0;
    conn.sent[service] = last;
    if (batchesToLose > 0) {
      batchesToLose--;
      return;
    }
    conn.ctx.onFrame(
      JSON.stringify({
        type: 'batch',
        events: visible,
        after: { [service]: after },
        cursor: { [service]: last },
      }),
    );
  };

  const store = (input: MemoryEventInput): RealtimeEvent => {
    const seq = head(input.service) + 1;
    heads.set(input.service, seq);
    const event: RealtimeEvent = {
      service: input.service,
      entityType: input.entityType ?? 'item',
      type: input.type ?? `${input.entityType ?? 'item'}.updated`,
      eventId: input.eventId ?? `evt_${nextEventId++}`,
      seq,
      ts: input.ts ?? now(),
      orgId,
    };
    if (input.propertyId !== undefined) event.propertyId = input.propertyId;
    if (input.mutationId !== undefined) event.mutationId = input.mutationId;
    if (input.data !== undefined) event.data = input.data;
    const log = logs.get(input.service);
    if (log) log.push(event);
    else logs.set(input.service, [event]);
    return event;
  };

  const transport: Transport = {
    name: 'memory',
    async connect(ctx: TransportContext): Promise<TransportConnection> {
      connectCount++;
      if (failuresLeft > 0) {
        failuresLeft--;
        throw (
          failureError ?? new RealtimeError('transport_unavailable', 'memory backend refused the connection')
        );
      }
      const conn: LiveConnection = {
        id: `mem_${connectCount}`,
        ctx,
        services: new Set(ctx.services),
        propertyIds: ctx.propertyIds,
        sent: {},
        open: true,
        welcomed: false,
      };
      live.add(conn);
      const end = () => {
        conn.open = false;
        live.delete(conn);
        clearInterval(conn.heartbeat);
      };
      ctx.signal.addEventListener('abort', end);
      // Heartbeats like a server's (a silenced backend sends none).
      conn.heartbeat = setInterval(() => {
        if (conn.open && !silent) ctx.onFrame(JSON.stringify({ type: 'heartbeat', serverTime: now() }));
      }, heartbeatMs);
      const welcomeCursor: Cursor = {};
      // Like the dev server: a cursor past the head (only a wiped log, a new
      // epoch, explains it) cannot be served: the welcome says the head and
      // a `reset` follows.
      const ahead = new Set<string>();
      for (const service of conn.services) {
        const from = ctx.cursor[service];
        if (from !== undefined && from > head(service)) ahead.add(service);
        welcomeCursor[service] = from !== undefined && from <= head(service) ? from : head(service);
        conn.sent[service] = welcomeCursor[service] ?? 0;
      }
      // Like a server: welcome, then the replay of what the cursor lacks, then live.
      queueMicrotask(() => {
        if (!conn.open || silent) return;
        conn.welcomed = true;
        ctx.onFrame(
          JSON.stringify({
            type: 'welcome',
            connectionId: conn.id,
            serverTime: now(),
            heartbeatMs,
            cursor: welcomeCursor,
          }),
        );
        for (const service of conn.services) {
          const from = conn.sent[service] ?? 0;
          if (ahead.has(service)) {
            const frame = {
              type: 'reset',
              services: [service],
              cursor: { [service]: from },
              reason: 'epoch_changed',
            };
            ctx.onFrame(JSON.stringify(frame));
          }
          const missed = (logs.get(service) ?? []).filter((e) => e.seq > from);
          if (missed.length > 0) deliver(conn, service, missed, head(service));
        }
      });
      return {
        async update(services, propertyIds) {
          const added: Cursor = {};
          for (const service of services) {
            if (!conn.services.has(service)) {
              added[service] = head(service);
              conn.sent[service] = head(service);
            }
          }
          conn.services = new Set(services);
          conn.propertyIds = propertyIds;
          return { cursor: added };
        },
        setToken() {},
        close: end,
      };
    },
  };

  return {
    transport,
    get connectionCount() {
      return live.size;
    },
    get connectCount() {
      return connectCount;
    },
    publish(input) {
      const event = store(input);
      for (const conn of live) deliver(conn, input.service, [event], event.seq);
      return event;
    },
    publishBatch(inputs) {
      const service = inputs[0]?.service;
      if (service === undefined) return [];
      // Checked before anything is stored: a refused batch must not use up
      // seqs that no connection is ever sent.
      if (inputs.some((e) => e.service !== service))
        throw new RangeError('publishBatch takes events of one service');
      const events = inputs.map(store);
      for (const conn of live) deliver(conn, service, events, head(service));
      return events;
    },
    skip(service, count) {
      // A negative or fractional count would make seqs no client accepts
      // (reused, or not integers): their events would be dropped unseen.
      // Past Number.MAX_SAFE_INTEGER, the next publish's seq is one the client drops too.
      if (!Number.isSafeInteger(count) || count < 0 || !Number.isSafeInteger(head(service) + count + 1))
        throw new RangeError(`skip needs a whole count ≥ 0 that keeps seqs safe integers, got ${count}`);
      heads.set(service, head(service) + count);
    },
    reset(services, reason = 'test') {
      for (const conn of live) {
        if (!conn.welcomed) continue; // its welcome will carry the head
        // Like a server: a connection hears of the services it streams only.
        const own = services.filter((service) => conn.services.has(service));
        if (own.length === 0) continue;
        const cursor: Cursor = {};
        for (const service of own) cursor[service] = conn.sent[service] = head(service);
        conn.ctx.onFrame(JSON.stringify({ type: 'reset', services: own, cursor, reason }));
      }
    },
    error(code, message = code, retryAfterMs) {
      const frame: Record<string, unknown> = { type: 'error', code, message };
      if (retryAfterMs !== undefined) frame.retryAfterMs = retryAfterMs;
      for (const conn of [...live]) conn.ctx.onFrame(JSON.stringify(frame));
    },
    sendRaw(frame) {
      for (const conn of live) conn.ctx.onFrame(typeof frame === 'string' ? frame : JSON.stringify(frame));
    },
    drop(status) {
      for (const conn of [...live]) {
        conn.open = false;
        live.delete(conn);
        clearInterval(conn.heartbeat);
        conn.ctx.onClose(status === undefined ? {} : { status });
      }
    },
    failNextConnects(count, error) {
      checkCount('failNextConnects', count);
      failuresLeft = count;
      failureError = error;
    },
    loseNextBatches(count) {
      checkCount('loseNextBatches', count);
      batchesToLose = count;
    },
    silence(value) {
      silent = value;
    },
    log(service) {
      return [...(logs.get(service) ?? [])];
    },
  };
}
