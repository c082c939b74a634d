// A small backend of PROTOCOL.md over WebSocket, SSE and long-poll, written from the
// protocol text as an adopter would, with one deliberate mistake switched on
// at a time: the conformance checker must name each one. Only what the
// checker exercises is here (one org, no property filter, no quotas).
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type WebSocket, WebSocketServer } from 'ws';

/** The mistakes a backend engineer makes; each switches one on. */
export interface Mistakes {
  /** seq grows by 2 per event. */
  seqStep2?: boolean;
  /** batch's `after` is its own cursor (one too far). */
  afterIsCursor?: boolean;
  /** SSE batches without `id:`. */
  sseNoId?: boolean;
  /** SSE `id:` as plain JSON, not base64url. */
  sseIdPlainJson?: boolean;
  /** A poll with nothing new answers `200 { frames: [] }` instead of 204. */
  emptyPoll200?: boolean;
  /** Streams and polls start at the head, whatever the cursor. */
  ignoreCursor?: boolean;
  /** Any token is welcomed. */
  acceptAnyToken?: boolean;
  /** No heartbeats. */
  noHeartbeat?: boolean;
  /** `welcome.cursor` names no service. */
  welcomeCursorEmpty?: boolean;
  /** `POST /update-services` answers `{ cursor: {} }`. */
  updateWithoutCursor?: boolean;
  /** A poll with nothing new answers 204 at once, whatever its `wait` (which PROTOCOL.md allows: "up to"). */
  ignoreWait?: boolean;
  /** WebSocket: the token is read from a `token` URL query parameter at the upgrade (refused with HTTP 401), not from `hello`. */
  wsTokenInQuery?: boolean;
  /** WebSocket: `update` frames are ignored. */
  wsIgnoreUpdate?: boolean;
  /** WebSocket: batches go out as binary messages (a Buffer sent as is). */
  wsBinaryBatches?: boolean;
  /** WebSocket: `welcome` goes out on connect, before `hello` is read (a bad token is refused after it). */
  wsWelcomeBeforeHello?: boolean;
  /** WebSocket: each message is a JSON array of the frames sent at once, as a long-poll answer's `frames`. */
  wsFrameArrays?: boolean;
  /** WebSocket: a bad token gets close 1008 (policy violation), no error frame. */
  wsClose1008?: boolean;
  /** WebSocket: a bad token gets close 4401 alone, no error frame (as the client accepts). */
  wsClose4401Only?: boolean;
  /** WebSocket: the error frame refusing a bad token has no `message` (as the client accepts). */
  wsErrorWithoutMessage?: boolean;
  /** WebSocket: heartbeats are WebSocket ping frames, not `heartbeat` frames. */
  wsPingHeartbeat?: boolean;
  /** WebSocket: `hello.cursor` read as base64url text, as in the URLs (the client sends an object). */
  wsHelloCursorBase64?: boolean;
  /** WebSocket: any `auth` frame (a refreshed token) closes the socket. */
  wsCloseOnAuth?: boolean;
  /** WebSocket: `auth` frames are not implemented: answered `error bad_request`, as any unexpected frame. */
  wsNoAuthFrame?: boolean;
  /** WebSocket: a bad token in an `auth` frame is ignored, the socket kept (PROTOCOL.md does not ask for a refusal). */
  wsIgnoreBadAuth?: boolean;
  /**
   * SSE: a live batch ends the stream instead of being written, as a proxy
   * that cuts streams, the batch in flight with them (not a mistake: the
   * SSE standard's clients reconnect, and a reconnect with the cursor gets it).
   */
  sseCutAtBatch?: boolean;
  /**
   * SSE: a `POST /update-services` ends its connection's stream, then is
   * answered 200 once the next stream opened (not a mistake: a stream may
   * end while an update is in flight; the client reconnects with the
   * services it then wants, the added one included).
   */
  sseEndAtUpdate?: boolean;
  /**
   * SSE: a `POST /update-services` drops its connection: answered 404, its
   * stream ended 20 ms later (not a mistake: the client drops the answer of
   * a stream that ended, or reconnects on it, and its reconnect asks for the
   * services it then wants).
   */
  sseEndAtUpdate404?: boolean;
  /**
   * SSE: the first four streams end 10 ms before their first heartbeat is
   * due, as a proxy with an idle timeout just under heartbeatMs (not a
   * mistake: the client's watchdog restarts at each reconnect's welcome).
   */
  sseEndBeforeHeartbeat?: boolean;
  /**
   * Long-poll: a poll of a live connection with nothing new is answered with
   * a heartbeat-only 200, not a 204: `held`, a heartbeat of the server's
   * clock once the poll was held heartbeatMs (not a mistake: a server whose
   * heartbeat ends a held poll); `fresh`, a new heartbeat at once, whatever
   * the `wait` (a server that does not hold polls); `replayed`, the same
   * heartbeat at once, its serverTime the welcome's (a cache in front of the
   * server replaying a stored answer).
   */
  pollHeartbeat?: 'held' | 'fresh' | 'replayed';
  /** A replay batch lists its events newest first. */
  replayReversed?: boolean;
  /** A replay leaves out the first event after the cursor (its `after` still the cursor). */
  replaySkipFirst?: boolean;
  /** SSE: `Last-Event-ID` is not read (only the `cursor` query parameter). */
  sseIgnoreLastEventId?: boolean;
  /** A cursor past the head (the server lost its seqs) is taken as is, no `reset`: the stream goes on below it. */
  noResetPastHead?: boolean;
  /** A `reset` frame without its `reason` (the SDK refuses the frame). */
  resetWithoutReason?: boolean;
  /** A `reset` whose cursor is one past the head: the next event is at that cursor, and the client drops it. */
  resetCursorAhead?: boolean;
  /** Every event's `data` carries 17 Mi characters: each batch is over the SDK's 16 Mi bound per frame. */
  hugeEvents?: boolean;
  /** One heartbeat after the welcome, then none. */
  heartbeatOnce?: boolean;
  /** Long-poll: a held poll is not answered when an event is published, only when its `wait` is up (204). */
  pollNoWake?: boolean;
  /** `POST /update-services` answers the added service's start as head + 1 (one past its last event). */
  updateStartPastHead?: boolean;
  /** An update keeps only the services it adds: the ones the connection had stop. */
  updateDropsKept?: boolean;
  /** Every live event goes to every connection of the org, whatever services it subscribed to. */
  allServices?: boolean;
}

/** How a correct backend may differ from this one's defaults (none is a mistake). */
export interface Variant {
  /** Live events go out this many ms after the publish, as from a server that batches (the publish settles at once). */
  batchWindowMs?: number;
  /** Heartbeats every this many ms, while the welcome still says heartbeatMs (a coarse timer: up to 2 × heartbeatMs is allowed). */
  heartbeatEveryMs?: number;
  /**
   * SSE: a reset for a cursor past the head goes out this many ms after the
   * welcome, at the head of then, with no event of that service before it
   * (a server that looks the cursor up first).
   */
  resetDelayMs?: number;
  /** Long-poll: a poll is held at most this many ms, whatever its `wait` (a server or proxy cap). */
  pollWaitCapMs?: number;
  /** SSE: a comment line before every message and on connect, as a proxy's keep-alive. */
  sseComments?: boolean;
  /** A new connection's replay starts at the event AT its cursor, which the client already has (an overlap: dedup drops it). */
  replayInclusive?: boolean;
}

export const GOOD_TOKEN = 'good-token';
export const HEARTBEAT_MS = 150;
const BASE = '/v2/realtime';

type Cursor = Record<string, number>;
interface Event {
  service: string;
  entityType: string;
  type: string;
  seq: number;
  ts: number;
  orgId: string;
  data: unknown;
}
interface Conn {
  id: string;
  services: string[];
  /** SSE: the response to write to. */
  sse?: ServerResponse;
  /** WebSocket: the socket, once its `hello` was accepted. */
  ws?: WebSocket;
  /** Long-poll: what it was last answered up to, and the poll waiting. */
  cursor: Cursor;
  waiter?: { res: ServerResponse; cursor: Cursor; timer: NodeJS.Timeout };
  heartbeat?: NodeJS.Timeout;
  /** The welcome's serverTime. */
  welcomedAt?: number;
  /** With `resetDelayMs`: the services whose reset is still to come (none of their events go out before it). */
  resetPending?: string[];
  /** Long-poll with `allServices`: batches of services it did not subscribe to, for its next poll. */
  others?: object[];
}

export interface FakeBackend {
  url: string;
  publish(service: string): void;
  /** `GET /poll` requests received so far. */
  readonly polls: number;
  close(): Promise<void>;
}

const b64url = (cursor: Cursor): string => Buffer.from(JSON.stringify(cursor)).toString('base64url');
const unb64url = (text: string | null | undefined): Cursor | undefined => {
  if (!text) return undefined;
  try {
    return JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as Cursor;
  } catch {
    return undefined;
  }
};

export async function startFakeBackend(m: Mistakes & Variant = {}): Promise<FakeBackend> {
  const log = new Map<string, Event[]>();
  let polls = 0;
  const conns = new Map<string, Conn>();
  let nextId = 1;
  /** With `sseEndAtUpdate`: update answers held until the next stream opens. */
  const afterNextStream: (() => void)[] = [];
  /** With `sseEndBeforeHeartbeat`: the streams ended before their first heartbeat so far. */
  let endedBeforeHeartbeat = 0;
  const head = (service: string): number => log.get(service)?.at(-1)?.seq ?? 0;

  /** The batches of `services` after `cursor` (one per service). */
  const batchesAfter = (services: string[], cursor: Cursor, replay = false): object[] =>
    services.flatMap((service) => {
      const sent = cursor[service] ?? head(service);
      // The overlap of replayInclusive: `after` one before the cursor, as the batch holds the event at it.
      const from = replay && m.replayInclusive && sent > 0 ? sent - 1 : sent;
      let events = (log.get(service) ?? []).filter((e) => e.seq > from);
      const last = events.at(-1);
      if (!last) return [];
      // Live batches carry one event each: these two only touch replays.
      // The one skipped is the first the client lacks (past `sent`), not an overlap's, which dedup drops anyway.
      if (events.length > 1 && m.replaySkipFirst) events = events.filter((e) => e.seq !== sent + 1);
      if (events.length > 1 && m.replayReversed) events = [...events].reverse();
      const after = m.afterIsCursor ? last.seq : from;
      return [{ type: 'batch', events, after: { [service]: after }, cursor: { [service]: last.seq } }];
    });

  const sseWrite = (res: ServerResponse, frame: { type: string; cursor?: Cursor }): void => {
    let id = '';
    if ((frame.type === 'batch' || frame.type === 'reset') && !m.sseNoId && frame.cursor) {
      id = `id: ${m.sseIdPlainJson ? JSON.stringify(frame.cursor) : b64url(frame.cursor)}\n`;
    }
    const comment = m.sseComments ? ': proxy keep-alive\n\n' : '';
    res.write(`${comment}event: ${frame.type}\n${id}data: ${JSON.stringify(frame)}\n\n`);
  };

  const welcome = (conn: Conn, start: Cursor): object => {
    conn.welcomedAt = Date.now();
    return {
      type: 'welcome',
      connectionId: conn.id,
      serverTime: conn.welcomedAt,
      heartbeatMs: HEARTBEAT_MS,
      cursor: m.welcomeCursorEmpty ? {} : start,
    };
  };

  const refuse = (res: ServerResponse, status: number, code: string): void => {
    res.writeHead(status, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ type: 'error', code, message: code }));
  };

  const authorized = (req: IncomingMessage): boolean =>
    m.acceptAnyToken || req.headers.authorization === `Bearer ${GOOD_TOKEN}`;

  const wsSend = (ws: WebSocket, frames: object[]): void => {
    if (frames.length === 0) return;
    if (m.wsFrameArrays) frames = [frames];
    for (const frame of frames) {
      const text = JSON.stringify(frame);
      ws.send(m.wsBinaryBatches && (frame as { type?: string }).type === 'batch' ? Buffer.from(text) : text);
    }
  };

  const startHeartbeat = (conn: Conn, beat: () => void): void => {
    if (m.heartbeatOnce) conn.heartbeat = setTimeout(beat, HEARTBEAT_MS);
    else if (!m.noHeartbeat) conn.heartbeat = setInterval(beat, m.heartbeatEveryMs ?? HEARTBEAT_MS);
  };

  /** Where each service starts for a client's cursor, and the resets of those past the head. */
  const startOf = (services: string[], from: Cursor, fresh: (s: string) => number) => {
    const start: Cursor = {};
    const resets: object[] = [];
    for (const s of services) {
      const sent = from[s];
      if (sent !== undefined && sent > head(s) && !m.noResetPastHead) {
        // Past the head: only lost seqs explain it (PROTOCOL.md, Frames: reset).
        start[s] = head(s);
        const reason = m.resetWithoutReason ? {} : { reason: 'epoch_changed' };
        const cursor = m.resetCursorAhead ? head(s) + 1 : head(s);
        resets.push({ type: 'reset', services: [s], cursor: { [s]: cursor }, ...reason });
      } else start[s] = sent ?? fresh(s);
    }
    return { start, resets };
  };

  const open = (services: string[], cursor: Cursor | undefined): { conn: Conn; frames: object[] } => {
    const conn: Conn = { id: `c${nextId++}`, services, cursor: {} };
    conns.set(conn.id, conn);
    const from = m.ignoreCursor ? {} : (cursor ?? {});
    const { start, resets } = startOf(services, from, head);
    const frames = [welcome(conn, start), ...resets, ...batchesAfter(services, start, true)];
    conn.cursor = { ...start };
    for (const s of services) conn.cursor[s] = head(s);
    return { conn, frames };
  };

  const answerPoll = (conn: Conn, status: number, frames?: object[]): void => {
    const waiter = conn.waiter;
    if (!waiter) return;
    conn.waiter = undefined;
    clearTimeout(waiter.timer);
    if (frames) {
      waiter.res.writeHead(200, { 'Content-Type': 'application/json' });
      waiter.res.end(JSON.stringify({ frames }));
    } else if (status === 204 && !m.emptyPoll200) {
      waiter.res.writeHead(204);
      waiter.res.end();
    } else {
      waiter.res.writeHead(200, { 'Content-Type': 'application/json' });
      waiter.res.end(JSON.stringify({ frames: [] }));
    }
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname.slice(BASE.length);
    const services = (url.searchParams.get('services') ?? '').split(',').filter(Boolean);
    if (!authorized(req)) return refuse(res, 401, 'unauthorized');

    if (req.method === 'GET' && path === '/stream') {
      const cursor =
        unb64url(url.searchParams.get('cursor')) ??
        (m.sseIgnoreLastEventId ? undefined : unb64url(req.headers['last-event-id'] as string));
      const { conn, frames } = open(services, cursor);
      conn.sse = res;
      res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store' });
      if (m.sseComments) res.write(': proxy\n\n');
      const late = m.resetDelayMs ? frames.filter((f) => (f as { type: string }).type === 'reset') : [];
      for (const frame of frames) if (!late.includes(frame)) sseWrite(res, frame as { type: string });
      if (late.length > 0) {
        conn.resetPending = late.flatMap((f) => (f as { services: string[] }).services);
        setTimeout(() => {
          for (const s of conn.resetPending ?? []) {
            sseWrite(res, {
              type: 'reset',
              services: [s],
              cursor: { [s]: head(s) },
              reason: 'epoch_changed',
            } as never);
          }
          conn.resetPending = undefined;
        }, m.resetDelayMs);
      }
      // A stream cut before its first heartbeat has none: under load, a late
      // cut timer could otherwise fire after it.
      const cut =
        m.sseEndBeforeHeartbeat && endedBeforeHeartbeat++ < 4
          ? setTimeout(() => {
              conns.delete(conn.id);
              res.end();
            }, HEARTBEAT_MS - 10)
          : undefined;
      if (!cut)
        startHeartbeat(conn, () => sseWrite(res, { type: 'heartbeat', serverTime: Date.now() } as never));
      res.on('close', () => {
        clearTimeout(cut);
        clearInterval(conn.heartbeat);
        conns.delete(conn.id);
      });
      for (const answer of afterNextStream.splice(0)) answer();
      return;
    }

    if (req.method === 'GET' && path === '/poll') {
      polls++;
      const known = conns.get(url.searchParams.get('connectionId') ?? '');
      const cursor = unb64url(url.searchParams.get('cursor'));
      if (!known) {
        const { frames } = open(services, cursor);
        res.writeHead(200, { 'Content-Type': 'application/json' });
        return res.end(JSON.stringify({ frames }));
      }
      if (services.length > 0) known.services = services;
      answerPoll(known, 204);
      const from = m.ignoreCursor ? known.cursor : { ...known.cursor, ...cursor };
      const frames = [...(known.others?.splice(0) ?? []), ...batchesAfter(known.services, from)];
      for (const frame of frames as { cursor: Cursor }[]) Object.assign(known.cursor, frame.cursor);
      if (frames.length > 0) {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        return res.end(JSON.stringify({ frames }));
      }
      if (m.pollHeartbeat === 'fresh' || m.pollHeartbeat === 'replayed') {
        const serverTime = m.pollHeartbeat === 'fresh' ? Date.now() : known.welcomedAt;
        res.writeHead(200, { 'Content-Type': 'application/json' });
        return res.end(JSON.stringify({ frames: [{ type: 'heartbeat', serverTime }] }));
      }
      const asked = m.ignoreWait ? 0 : Number(url.searchParams.get('wait') ?? 25) * 1000;
      const wait = Math.min(asked, m.pollWaitCapMs ?? asked);
      const timer =
        m.pollHeartbeat === 'held'
          ? setTimeout(
              () => answerPoll(known, 200, [{ type: 'heartbeat', serverTime: Date.now() }]),
              HEARTBEAT_MS,
            )
          : setTimeout(() => answerPoll(known, 204), wait);
      known.waiter = { res, cursor: from, timer };
      res.on('close', () => {
        if (known.waiter?.res === res) {
          clearTimeout(known.waiter.timer);
          known.waiter = undefined;
        }
      });
      return;
    }

    if (req.method === 'POST' && path === '/update-services') {
      let body = '';
      req.on('data', (chunk) => {
        body += chunk;
      });
      req.on('end', () => {
        const { connectionId, services: next } = JSON.parse(body) as {
          connectionId: string;
          services: string[];
        };
        const conn = conns.get(connectionId);
        if (!conn) return refuse(res, 404, 'not_found');
        if (m.sseEndAtUpdate404 && conn.sse) {
          const stream = conn.sse;
          clearInterval(conn.heartbeat);
          conns.delete(conn.id);
          // The answer goes first, the stream's end a moment later: the
          // harder order for the client, which reads the 404 on a stream still open.
          res.on('finish', () => setTimeout(() => stream.end(), 20));
          return refuse(res, 404, 'not_found');
        }
        const added: Cursor = {};
        for (const s of next) {
          if (conn.services.includes(s)) continue;
          added[s] = head(s) + (m.updateStartPastHead ? 1 : 0);
          conn.cursor[s] = head(s);
        }
        conn.services = m.updateDropsKept ? Object.keys(added) : next;
        const answer = (): void => {
          res.writeHead(200, { 'Content-Type': 'application/json' });
          res.end(JSON.stringify({ cursor: m.updateWithoutCursor ? {} : added }));
        };
        if (!(m.sseEndAtUpdate && conn.sse)) return answer();
        // The answer waits for the reconnect: it cannot have reached the client before the end.
        clearInterval(conn.heartbeat);
        conns.delete(conn.id);
        conn.sse.end();
        afterNextStream.push(answer);
      });
      return;
    }
    refuse(res, 404, 'not_found');
  });
  // WebSocket: the token, services, property filter and cursor come in `hello`,
  // the first client frame (browsers cannot set headers on a WebSocket).
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, upgradeHead) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname !== `${BASE}/stream`) return socket.destroy();
    if (m.wsTokenInQuery && !m.acceptAnyToken && url.searchParams.get('token') !== GOOD_TOKEN) {
      return socket.end('HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    }
    wss.handleUpgrade(req, socket, upgradeHead, (ws) => {
      const early = m.wsWelcomeBeforeHello
        ? open(url.searchParams.get('services')?.split(',') ?? [], {})
        : undefined;
      if (early) wsSend(ws, [early.frames[0] as object]);
      let conn: Conn | undefined;
      ws.on('message', (data) => {
        let frame: { type?: string; token?: string; services?: string[]; cursor?: unknown };
        try {
          frame = JSON.parse(String(data));
        } catch {
          return wsSend(ws, [{ type: 'error', code: 'bad_request', message: 'not JSON' }]);
        }
        const refused = (token: string | null | undefined): boolean => {
          if (m.acceptAnyToken || token === GOOD_TOKEN) return false;
          if (m.wsClose1008) ws.close(1008, 'invalid token');
          else if (m.wsClose4401Only) ws.close(4401);
          else {
            const message = m.wsErrorWithoutMessage ? {} : { message: 'bad token' };
            wsSend(ws, [{ type: 'error', code: 'unauthorized', ...message }]);
            ws.close(4401);
          }
          return true;
        };
        if (frame.type === 'hello' && !conn) {
          if (!m.wsTokenInQuery && refused(frame.token)) return;
          const cursor = m.wsHelloCursorBase64
            ? unb64url(typeof frame.cursor === 'string' ? frame.cursor : undefined)
            : (frame.cursor as Cursor | undefined);
          const services = frame.services ?? [];
          let frames: object[];
          if (early) {
            // Welcomed at the head already: replay only what the hello's cursor missed.
            conn = early.conn;
            const welcomed = (early.frames[0] as { cursor: Cursor }).cursor;
            const sent = m.ignoreCursor ? {} : (cursor ?? {});
            const { start, resets } = startOf(services, sent, (s) => welcomed[s] ?? head(s));
            frames = [...resets, ...batchesAfter(services, start)];
          } else {
            const opened = open(services, cursor);
            conn = opened.conn;
            frames = opened.frames;
          }
          conn.services = services;
          conn.ws = ws;
          wsSend(ws, frames);
          const live = conn;
          startHeartbeat(live, () =>
            m.wsPingHeartbeat ? ws.ping() : wsSend(ws, [{ type: 'heartbeat', serverTime: Date.now() }]),
          );
          return;
        }
        if (frame.type === 'update' && conn && !m.wsIgnoreUpdate) {
          const kept = conn.services;
          const next = frame.services ?? kept;
          conn.services = m.updateDropsKept ? next.filter((s) => !kept.includes(s)) : next;
          return;
        }
        if (frame.type === 'auth' && conn && !m.wsNoAuthFrame) {
          if (m.wsCloseOnAuth) ws.close();
          else if (!m.wsIgnoreBadAuth) refused(frame.token);
          return;
        }
        if (frame.type === 'update' && conn) return;
        wsSend(ws, [{ type: 'error', code: 'bad_request', message: `unexpected ${frame.type} frame` }]);
      });
      ws.on('close', () => {
        const gone = conn ?? early?.conn;
        if (!gone) return;
        clearInterval(gone.heartbeat);
        conns.delete(gone.id);
      });
    });
  });
  /** Logs one event of `service` and sends it to the connections that have it. */
  const commit = (service: string): void => {
    const events = log.get(service) ?? [];
    log.set(service, events);
    const seq = head(service) + (m.seqStep2 ? 2 : 1);
    events.push({
      service,
      entityType: 'task',
      type: 'task.updated',
      seq,
      ts: Date.now(),
      orgId: 'org_1',
      data: m.hugeEvents ? { blob: 'x'.repeat(17 * 2 ** 20) } : {},
    });
    for (const conn of conns.values()) {
      const subscribed = conn.services.includes(service);
      if (!(subscribed || m.allServices) || conn.resetPending?.includes(service)) continue;
      const from = { [service]: seq - (m.seqStep2 ? 2 : 1) };
      const frames = batchesAfter([service], from);
      if (conn.sse && m.sseCutAtBatch) {
        clearInterval(conn.heartbeat);
        conns.delete(conn.id);
        conn.sse.end();
      } else if (conn.sse) for (const frame of frames) sseWrite(conn.sse, frame as { type: string });
      else if (conn.ws) wsSend(conn.ws, frames);
      else if (!subscribed) {
        // Long-poll, with allServices: the held poll now, else the next one.
        conn.others = [...(conn.others ?? []), ...frames];
        if (conn.waiter) answerPoll(conn, 200, conn.others.splice(0));
      } else if (conn.waiter && !m.pollNoWake) {
        const pending = batchesAfter(conn.services, conn.waiter.cursor);
        for (const frame of pending as { cursor: Cursor }[]) Object.assign(conn.cursor, frame.cursor);
        answerPoll(conn, 200, pending);
      }
    }
  };

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}${BASE}`,
    get polls() {
      return polls;
    },
    publish(service) {
      // With a batch window the publish settles at once; the event exists (and goes out) once the window closes.
      if (m.batchWindowMs) setTimeout(() => commit(service), m.batchWindowMs);
      else commit(service);
    },
    async close() {
      for (const conn of conns.values()) {
        clearInterval(conn.heartbeat);
        if (conn.waiter) clearTimeout(conn.waiter.timer);
      }
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
