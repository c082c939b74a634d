import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import { connect as netConnect, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { createRealtime, type RealtimeClient } from '../../src/client';
import { type DevServer, startDevServer } from '../../src/devserver/index';
import type { RealtimeOptions } from '../../src/options';
import { closingAfterEach, sleep, until } from './devserver-helpers';

// The client behind a captive portal or a misconfigured gateway: the realtime
// endpoints answer something that is not the protocol. A node:http server in
// front of the dev server forwards (HTTP and the WebSocket upgrade) or
// answers wrongly, per endpoint; the client is the real one, with its default
// chain websocket → sse → long-poll. What the docs promise, checked here
// (troubleshooting.md "Never connects" and "Error codes", rollout.md and
// observability.md on the rollback guard, options.md on circuit and backoff):
// - no crash, no unhandled rejection, nothing from the bad body reaches a
//   handler; a wrong answer is a failed connect (`failedConnects`, never
//   `invalidFrames`) with the `lastError` of the last transport tried;
// - no hot loop: once `failureThreshold` attempts failed the circuit opens
//   and the attempts are at least `cooldownMs` apart (a `Retry-After` at
//   least that long);
// - the portal gone, the client is back within the open period and the
//   backoff, with every event published meanwhile, once, in order;
// - the rollback guard trips as rollout.md says: the circuit open past
//   `circuitOpenMs`; never on the error rate, which counts invalid frames
//   only (a portal for as long as a server restart takes, in a tab whose
//   quiet connection put its heartbeats in the window, used to trip it at
//   the second failed attempt); once tripped no attempt at all, and the
//   `disconnected` of the failure that tripped it promises no retry.

const closing = closingAfterEach();

type Endpoint = 'ws' | 'sse' | 'poll' | 'other';
type Answer =
  | 'forward'
  | 'html'
  | 'redirect'
  | 'json'
  | 'empty'
  | '502'
  | '503'
  | '503-retry-after'
  | '504'
  | 'black-hole'
  | 'reset';

const LOGIN_PAGE =
  '<!doctype html><html><body><form action="/login">Accept the terms to use the Wi-Fi</form></body></html>';

/** Another origin's login page, where the portal's redirects go. */
async function loginServer(): Promise<string> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(LOGIN_PAGE);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closing({ close: () => closeServer(server, new Set()) });
  return `http://127.0.0.1:${(server.address() as { port: number }).port}/login`;
}

async function closeServer(server: Server, sockets: Set<Socket>): Promise<void> {
  for (const socket of sockets) socket.destroy();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}

function endpointOf(req: IncomingMessage): Endpoint {
  if (req.headers.upgrade) return 'ws';
  const path = new URL(req.url!, 'http://x').pathname;
  return path.endsWith('/stream') ? 'sse' : path.endsWith('/poll') ? 'poll' : 'other';
}

/** The wrong answer as status, headers and body (black hole and reset excepted). */
function wrong(
  answer: Answer,
  login: string,
): { status: number; headers: Record<string, string>; body: string } {
  const html = { 'content-type': 'text/html; charset=utf-8' };
  switch (answer) {
    case 'redirect':
      return { status: 302, headers: { location: login }, body: '' };
    case 'json':
      return {
        status: 200,
        headers: { 'content-type': 'application/json' },
        body: '{"error":"upstream unavailable"}',
      };
    case 'empty':
      return { status: 200, headers: { 'content-type': 'application/json' }, body: '' };
    case '502':
    case '503':
    case '504':
      return {
        status: Number(answer),
        headers: html,
        body: `<html><h1>${answer} from the gateway</h1></html>`,
      };
    case '503-retry-after':
      return { status: 503, headers: { ...html, 'retry-after': '1' }, body: '<html><h1>503</h1></html>' };
    default:
      return { status: 200, headers: html, body: LOGIN_PAGE };
  }
}

const REASONS: Record<number, string> = {
  200: 'OK',
  302: 'Found',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/** The server in front of the dev server: forwards, or answers `answers[endpoint]`. */
async function portal(dev: DevServer) {
  const target = new URL(dev.url);
  const login = await loginServer();
  const answers: Record<Endpoint, Answer> = {
    ws: 'forward',
    sse: 'forward',
    poll: 'forward',
    other: 'forward',
  };
  const requests: Array<{ at: number; endpoint: Endpoint }> = [];
  const sockets = new Set<Socket>();

  const server = createServer((req, res) => {
    const endpoint = endpointOf(req);
    const answer = answers[endpoint];
    requests.push({ at: performance.now(), endpoint });
    if (answer === 'forward') {
      const { hostname: host, port } = target;
      const upstream = httpRequest(
        { host, port, method: req.method, path: req.url, headers: req.headers },
        (up) => {
          res.writeHead(up.statusCode!, up.headers);
          up.pipe(res);
        },
      );
      upstream.on('error', () => res.destroy());
      res.on('close', () => upstream.destroy());
      req.pipe(upstream);
    } else if (answer === 'reset') {
      // The start of a real answer, then the connection reset.
      res.writeHead(200, { 'content-type': endpoint === 'sse' ? 'text/event-stream' : 'application/json' });
      res.write(endpoint === 'sse' ? 'event: welcome\ndata: {"type":"wel' : '{"frames":[{"type":"wel');
      setTimeout(() => req.socket.destroy(), 10);
    } else if (answer !== 'black-hole') {
      const { status, headers, body } = wrong(answer, login);
      res.writeHead(status, headers);
      res.end(body);
    }
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('upgrade', (req, socket, head) => {
    const answer = answers.ws;
    requests.push({ at: performance.now(), endpoint: 'ws' });
    socket.on('error', () => {});
    if (answer === 'forward') {
      const upstream = netConnect(Number(target.port), target.hostname, () => {
        let raw = `${req.method} ${req.url} HTTP/1.1\r\n`;
        for (let i = 0; i < req.rawHeaders.length; i += 2)
          raw += `${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}\r\n`;
        upstream.write(`${raw}\r\n`);
        upstream.write(head);
        upstream.pipe(socket);
        socket.pipe(upstream);
      });
      upstream.on('error', () => socket.destroy());
      socket.on('close', () => upstream.destroy());
    } else if (answer === 'reset') {
      socket.write('HTTP/1.1 101 Switching');
      setTimeout(() => socket.destroy(), 10);
    } else if (answer !== 'black-hole') {
      const { status, headers, body } = wrong(answer, login);
      let raw = `HTTP/1.1 ${status} ${REASONS[status]}\r\n`;
      for (const [name, value] of Object.entries(headers)) raw += `${name}: ${value}\r\n`;
      socket.end(`${raw}content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closing({ close: () => closeServer(server, sockets) });
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}${target.pathname}`,
    requests,
    /** Resets every connection to the client, as a network change would. */
    cut() {
      for (const socket of sockets) socket.destroy();
    },
    /** The portal answers `answer` on every realtime endpoint. */
    set(answer: Answer, endpoints: Endpoint[] = ['ws', 'sse', 'poll']) {
      for (const endpoint of endpoints) answers[endpoint] = answer;
    },
  };
}

const CIRCUIT = { failureThreshold: 3, cooldownMs: 100, maxCooldownMs: 400 };
const BACKOFF = { baseMs: 20, capMs: 50 };
/**
 * The guard out of the way where it is not under test: the circuit is never
 * open that long. The default rates: failed connects are no errors of theirs.
 */
const NO_ROLLBACK = { rollback: { circuitOpenMs: 60_000 } };

async function rig(devOptions: { heartbeatMs: number }, extra: Partial<RealtimeOptions> = {}) {
  const dev = closing(await startDevServer({ ...devOptions, batchWindowMs: { min: 1, max: 5 } }));
  const p = await portal(dev);
  const rt: RealtimeClient = closing(
    createRealtime({
      url: p.url,
      scope: { orgId: 'org_1', userId: 'u_1' },
      platform: { WebSocket: WebSocket as never },
      auth: { getToken: () => 'dev:org_1:u_1' },
      leader: { strategy: 'none' },
      devtools: false,
      telemetry: { sampleRate: 0 },
      connectTimeoutMs: 800,
      circuit: CIRCUIT,
      backoff: BACKOFF,
      ...extra,
    }),
  );
  const seqs: number[] = [];
  const handed: unknown[] = [];
  rt.subscribe('tasks', (events) => {
    for (const event of events) {
      handed.push(event);
      seqs.push(event.seq);
    }
  });
  const disconnects: Array<{ code: string; willRetryInMs: number | undefined; at: number }> = [];
  rt.on('disconnected', ({ error, willRetryInMs }) =>
    disconnects.push({ code: error.code, willRetryInMs, at: performance.now() }),
  );
  const fallbacks: Array<{ reason: string; at: number }> = [];
  rt.on('fallback', ({ reason }) => fallbacks.push({ reason, at: performance.now() }));
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  closing({ close: () => process.off('unhandledRejection', onUnhandled) });
  const publish = (count: number): void => {
    for (let i = 0; i < count; i++)
      dev.publish('org_1', { service: 'tasks', entityType: 'task', type: 'task.updated' });
  };
  await until(() => rt.getState().status === 'connected', 5000, 'connected through the portal');
  return { dev, portal: p, rt, seqs, handed, disconnects, fallbacks, unhandled, publish };
}

const upTo = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

/** The wrong answers, with the `lastError` each leaves (the last transport tried) and the endpoints it reaches. */
const CASES: Array<{ answer: Answer; lastError: RegExp; reaches: Endpoint[] }> = [
  {
    answer: 'html',
    lastError: /^transport_unavailable: poll answer is not JSON$/,
    reaches: ['ws', 'sse', 'poll'],
  },
  {
    answer: 'redirect',
    lastError: /^transport_unavailable: poll answer is not JSON$/,
    reaches: ['ws', 'sse', 'poll'],
  },
  {
    answer: 'json',
    lastError: /^transport_unavailable: poll answer is not \{ frames: \[\.\.\.\] \}$/,
    reaches: ['ws', 'sse', 'poll'],
  },
  {
    answer: 'empty',
    lastError: /^transport_unavailable: poll answer is not JSON$/,
    reaches: ['ws', 'sse', 'poll'],
  },
  // A server answer is final for the attempt: long-poll is not asked.
  {
    answer: '502',
    lastError: /^server_error: server answered HTTP 502 for http:\/\/\S+\/stream$/,
    reaches: ['ws', 'sse'],
  },
  {
    answer: '503',
    lastError: /^overloaded: server answered HTTP 503 for http:\/\/\S+\/stream$/,
    reaches: ['ws', 'sse'],
  },
  {
    answer: '504',
    lastError: /^server_error: server answered HTTP 504 for http:\/\/\S+\/stream$/,
    reaches: ['ws', 'sse'],
  },
  // The SSE stream starts and is cut before its welcome (a lost connection),
  // the WebSocket handshake and the poll answer are cut half way.
  {
    answer: 'reset',
    lastError: /^(connection_lost: the event stream failed|transport_unavailable: poll answer is not JSON)$/,
    reaches: ['ws', 'sse', 'poll'],
  },
];

describe('behind a captive portal or a misconfigured gateway', () => {
  it('each wrong answer is a failed connect, paced by the circuit, never an event; the portal gone, everything published meanwhile arrives once, in order', async () => {
    const r = await rig({ heartbeatMs: 60_000 }, NO_ROLLBACK);
    let published = 0;
    r.publish(1);
    published = 1;
    await until(() => r.seqs.length === 1, 3000, 'the first event');

    for (const { answer, lastError, reaches } of CASES) {
      const before = r.rt.getState().counters;
      r.portal.set(answer);
      const from = performance.now();
      r.dev.faults.dropConnections();
      r.publish(2);
      published += 2;
      // The circuit opened, and two probes failed since.
      await until(
        () => r.rt.getState().counters.failedConnects - before.failedConnects >= CIRCUIT.failureThreshold + 2,
        5000,
        `${answer}: failed attempts`,
      );
      const state = r.rt.getState();
      const seen = r.portal.requests.filter((q) => q.at >= from);
      const failed = state.counters.failedConnects - before.failedConnects;
      const what = `${answer}: ${JSON.stringify({ lastError: state.lastError, circuit: state.circuit, failed })}`;
      expect(state.status, what).toBe('reconnecting');
      expect(state.lastError, what).toMatch(lastError);
      // A wrong answer is a failed attempt, not a frame.
      expect(state.counters.invalidFrames, what).toBe(before.invalidFrames);
      expect(failed, what).toBeGreaterThanOrEqual(CIRCUIT.failureThreshold);
      // Every failure since the last welcome, in the open (or probing) circuit.
      expect(state.circuit.state, what).not.toBe('closed');
      expect(state.circuit.consecutiveFailures, what).toBe(failed);
      expect([...new Set(seen.map((q) => q.endpoint))].sort(), what).toEqual([...reaches].sort());
      // No hot loop: each attempt starts with the WebSocket (it was the one
      // welcomed); from the one after the circuit opened on, they are at
      // least its cooldown apart.
      const attempts = seen.filter((q) => q.endpoint === 'ws').map((q) => q.at);
      expect(attempts.length, what).toBeGreaterThanOrEqual(failed);
      for (let i = CIRCUIT.failureThreshold; i < attempts.length; i++)
        expect(attempts[i]! - attempts[i - 1]!, what).toBeGreaterThanOrEqual(CIRCUIT.cooldownMs - 5);
      expect(attempts.length, what).toBeLessThanOrEqual(failed + 1);
      expect(r.seqs, what).toEqual(upTo(published - 2));

      // The portal goes: back within the open period and a backoff.
      r.portal.set('forward');
      const back = performance.now();
      await until(() => r.rt.getState().status === 'connected', 3000, `${answer}: reconnected`);
      expect(performance.now() - back, what).toBeLessThan(CIRCUIT.maxCooldownMs + BACKOFF.capMs + 1000);
      await until(() => r.seqs.length === published, 3000, `${answer}: the events of the outage`);
      expect(r.rt.getState().circuit).toEqual({ state: 'closed', consecutiveFailures: 0 });
    }
    r.publish(1);
    published++;
    await until(() => r.seqs.length === published, 3000, 'the last event');
    await sleep(50);
    expect(r.seqs).toEqual(upTo(published));
    expect(r.handed.every((e) => (e as { service: string }).service === 'tasks')).toBe(true);
    expect(r.rt.getState().counters.invalidFrames).toBe(0);
    expect(r.fallbacks).toEqual([]);
    expect(r.unhandled).toEqual([]);
  });

  it('a 503 with Retry-After: the attempts wait for it', async () => {
    const r = await rig({ heartbeatMs: 60_000 }, NO_ROLLBACK);
    r.portal.set('503-retry-after');
    const from = performance.now();
    r.dev.faults.dropConnections();
    r.publish(2);
    await until(
      () => r.disconnects.filter((d) => d.code === 'overloaded').length >= 2,
      4000,
      'two refused attempts',
    );
    const refused = r.disconnects.filter((d) => d.code === 'overloaded');
    for (const d of refused) expect(d.willRetryInMs).toBeGreaterThanOrEqual(1000);
    const attempts = r.portal.requests.filter((q) => q.at >= from && q.endpoint === 'ws').map((q) => q.at);
    for (let i = 2; i < attempts.length; i++)
      expect(attempts[i]! - attempts[i - 1]!).toBeGreaterThanOrEqual(990);
    expect(r.rt.getState().lastError).toMatch(
      /^overloaded: server answered HTTP 503 for http:\/\/\S+\/stream$/,
    );
    expect(r.portal.requests.filter((q) => q.at >= from && q.endpoint === 'poll')).toEqual([]);
    r.portal.set('forward');
    await until(() => r.seqs.length === 2, 4000, 'the events of the outage');
    expect(r.seqs).toEqual([1, 2]);
    expect(r.unhandled).toEqual([]);
  });

  it('a black hole: each attempt ends at connectTimeoutMs, the silent transports go last, the client connects over the first that answers', async () => {
    const r = await rig({ heartbeatMs: 60_000 }, NO_ROLLBACK);
    // Only the WebSocket upgrade and the event stream hang: long-poll works.
    r.portal.set('black-hole', ['ws', 'sse']);
    r.dev.faults.dropConnections();
    r.publish(2);
    await until(() => r.rt.getState().status !== 'connected', 3000, 'the connection dropped');
    // Two timeouts of the WebSocket, then two of SSE: both moved to the end.
    await until(() => r.rt.getState().status === 'connected', 6000, 'connected again');
    expect(r.rt.getState().transport).toBe('long-poll');
    expect(r.disconnects.filter((d) => d.code === 'connect_timeout')).toHaveLength(4);
    await until(() => r.seqs.length === 2, 3000, 'the events of the outage');
    // Everything hangs now, the long-poll too: the live poll is cut, the next never answered.
    r.portal.set('black-hole', ['poll']);
    // Cut until the loop's poll in flight (forwarded, or held) is cut with them.
    await until(
      () => {
        r.portal.cut();
        return r.rt.getState().status !== 'connected';
      },
      3000,
      'the live poll cut',
    );
    await until(() => r.rt.getState().counters.failedConnects >= 5, 4000, 'a failed attempt');
    expect(r.rt.getState().lastError).toMatch(/^connect_timeout: /);
    r.portal.set('forward');
    r.publish(1);
    await until(() => r.seqs.length === 3, 4000, 'the event published in the black hole');
    expect(r.seqs).toEqual([1, 2, 3]);
    expect(r.unhandled).toEqual([]);
  });

  it('a portal that stays: the circuit open past circuitOpenMs turns realtime off for the session (auto_rollback), and nothing is tried after', async () => {
    // The default rates: the failed connects are no errors of theirs.
    const r = await rig({ heartbeatMs: 60_000 }, { rollback: { circuitOpenMs: 1000 } });
    r.publish(1);
    await until(() => r.seqs.length === 1, 3000, 'the first event');
    r.portal.set('html');
    const from = performance.now();
    r.dev.faults.dropConnections();
    await until(() => r.fallbacks.length === 1, 4000, 'the trip');
    expect(r.fallbacks[0]!.at - from).toBeGreaterThan(1000);
    expect(r.rt.getState()).toMatchObject({
      status: 'disabled',
      disabledReason: 'auto_rollback',
      rollback: { state: 'tripped', reason: 'circuit_open' },
    });
    // A failure that tripped it (rather than the open period's end) promises no retry.
    for (const d of r.disconnects.filter((d) => d.at >= r.fallbacks[0]!.at))
      expect(d.willRetryInMs).toBeUndefined();
    const atTrip = r.portal.requests.length;
    r.portal.set('forward');
    r.publish(1);
    await sleep(800);
    expect(r.portal.requests.length).toBe(atTrip);
    expect(r.rt.getState().status).toBe('disabled');
    expect(r.seqs).toEqual([1]);
    expect(r.unhandled).toEqual([]);
  });

  it('a quiet connection whose heartbeats fill the window: a portal for as long as a restart trips nothing with the default rates; one that stays trips circuit_open, and after the cooldown it connects and replays', async () => {
    // Heartbeats every 100 ms and a 3 s window stand for the defaults' 15 s
    // heartbeats in 5 minutes: 20 or more valid frames in the window. The
    // circuit (open after 3 failures) may stay open 1.5 s.
    const r = await rig(
      { heartbeatMs: 100 },
      { rollback: { windowMs: 3000, cooldownMs: 1000, circuitOpenMs: 1500 } },
    );
    await sleep(2500);
    expect(r.rt.getState().rollback.state).toBe('ok');

    // ── a restart: the connection drops, a few attempts meet the portal ──
    r.portal.set('html');
    r.dev.faults.dropConnections();
    r.publish(3);
    // The second failed attempt tripped `error_rate` (2/22 > 5 %) when
    // failed connects counted: realtime off for the cooldown (by default,
    // for the session).
    await until(() => r.rt.getState().counters.failedConnects >= 3, 3000, 'failed attempts');
    r.portal.set('forward');
    await until(() => r.rt.getState().status === 'connected', 3000, 'reconnected after the restart');
    await until(() => r.seqs.length === 3, 3000, 'the events of the restart');
    const failed = r.rt.getState().counters.failedConnects;
    expect(failed).toBeGreaterThanOrEqual(3);
    expect(failed).toBeLessThanOrEqual(5);
    expect(r.fallbacks).toEqual([]);
    expect(r.rt.getState()).toMatchObject({ status: 'connected', rollback: { state: 'ok' } });
    expect(r.disconnects.map((d) => d.code)).toEqual([
      'connection_lost',
      ...Array(failed).fill('transport_unavailable'),
    ]);
    expect(r.disconnects.every((d) => d.willRetryInMs !== undefined)).toBe(true);

    // ── a portal that stays: the circuit open past circuitOpenMs trips it ──
    await sleep(500);
    r.portal.set('html');
    const from = performance.now();
    r.dev.faults.dropConnections();
    r.publish(3);
    await until(() => r.fallbacks.length === 1, 4000, 'the trip');
    expect(r.fallbacks[0]!.at - from).toBeGreaterThan(1500);
    expect(r.rt.getState()).toMatchObject({
      status: 'disabled',
      disabledReason: 'auto_rollback',
      rollback: { state: 'tripped', reason: 'circuit_open' },
    });
    expect(r.rt.getState().counters.invalidFrames).toBe(0);
    for (const d of r.disconnects.filter((d) => d.at >= r.fallbacks[0]!.at))
      expect(d.willRetryInMs).toBeUndefined();
    r.portal.set('forward');
    await until(() => r.rt.getState().status === 'connected', 3000, 'connected after the cooldown');
    await until(() => r.seqs.length === 6, 3000, 'the events of the outage');
    await sleep(50);
    expect(r.seqs).toEqual(upTo(6));
    expect(r.fallbacks).toHaveLength(1);
    expect(r.unhandled).toEqual([]);
  });
});
