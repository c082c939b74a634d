import { SERVICE_NAME_PATTERN } from '../protocol/read';
import type { Cursor } from '../protocol/schemas';
import { isHttpUrl } from '../transports/url';
import { describeValue } from '../util/validate';
import { type Item, now } from './queue';
import {
  type CheckerWebSocketClass,
  describeError,
  type Opened,
  type OpenParams,
  openSession,
  type Session,
} from './sessions';
import { implausibleTime, type Problem, type ProblemKind, StreamState } from './stream-state';
import type {
  CheckBackendOptions,
  CheckName,
  CheckResult,
  CheckStatus,
  ConformanceReport,
  ConformanceTransport,
} from './types';

// The checks of checkBackend (index.ts), one transport after the other, each
// check after the other: every check publishes into the same org, and a
// check running beside another would see its events.

const ALL_TRANSPORTS: readonly ConformanceTransport[] = ['websocket', 'sse', 'long-poll'];

/** Events the `events` check publishes, one at a time. */
export const EVENT_COUNT = 3;

/** Slack on top of 2 × heartbeatMs for the heartbeat to travel. */
const HEARTBEAT_SLACK_MS = 250;

/** How long a WebSocket `update` frame gets to reach the server before the first publish. */
const UPDATE_FRAME_GRACE_MS = 100;

/**
 * The problems a replay or an added service is judged by: where the stream
 * starts (a gap), a reset, an error. seq steps, cursors and SSE framing are
 * the events check's, so that one mistake fails one check.
 */
const REPLAY_KINDS: readonly ProblemKind[] = ['after', 'reset', 'error'];

/** How long a bad token's welcome gets to be followed by a refusal, for the detail (a server that welcomes before it reads `hello`). */
const REFUSAL_AFTER_WELCOME_MS = 250;

/** A bad token: no backend issues this one. */
export const BAD_TOKEN = 'tabwire-conformance-invalid-token';

/** The checks of each transport, in the order they run. */
export const CHECKS: Record<ConformanceTransport, readonly CheckName[]> = {
  websocket: ['auth', 'welcome', 'heartbeat', 'events', 'replay', 'update'],
  sse: ['auth', 'welcome', 'heartbeat', 'events', 'replay', 'replay-last-event-id', 'update'],
  'long-poll': ['auth', 'welcome', 'empty-poll', 'events', 'replay', 'replay-poll-cursor', 'update'],
};

interface Outcome {
  status: CheckStatus;
  detail: string;
}
const passed = (detail: string): Outcome => ({ status: 'passed', detail });
const failed = (detail: string): Outcome => ({ status: 'failed', detail });
const skipped = (detail: string): Outcome => ({ status: 'skipped', detail: `skipped: ${detail}` });

interface Settings {
  base: string;
  services: readonly string[];
  transports: readonly ConformanceTransport[];
  timeoutMs: number;
  pollWaitSeconds: number;
  hasToken: boolean;
  /** The user's `getToken` (or `token`), given up on at `deadline`. */
  token: (deadline: number) => Promise<string | undefined>;
  /** The user's `publish`, given up on at `deadline`. */
  publish: (service: string, deadline: number) => Promise<void>;
  WebSocket: CheckerWebSocketClass | undefined;
}

/** Validates the options: a mistake in them is a `TypeError` or `RangeError` naming the option. */
function settle(options: CheckBackendOptions, WebSocket: CheckerWebSocketClass | undefined): Settings {
  if (typeof options !== 'object' || options === null)
    throw new TypeError('checkBackend takes an options object');
  const { url, services, publish, getToken, token } = options;
  if (typeof url !== 'string' || !isHttpUrl(url)) {
    throw new TypeError(`checkBackend: url must be an absolute http(s) URL, got ${JSON.stringify(url)}`);
  }
  if (typeof publish !== 'function') throw new TypeError('checkBackend: publish must be a function');
  if (!Array.isArray(services) || services.length === 0) {
    throw new TypeError(
      'checkBackend: services must name at least one service the test user may subscribe to',
    );
  }
  for (const service of services) {
    if (typeof service !== 'string' || !SERVICE_NAME_PATTERN.test(service)) {
      throw new RangeError(
        `checkBackend: ${JSON.stringify(service)} is not a service name (letters, digits, _ . : -)`,
      );
    }
  }
  const twice = services.find((service, i) => services.indexOf(service) !== i);
  if (twice !== undefined) throw new RangeError(`checkBackend: services has ${JSON.stringify(twice)} twice`);
  const transports = options.transports ?? ALL_TRANSPORTS;
  if (
    !Array.isArray(transports) ||
    transports.length === 0 ||
    transports.some((t) => !ALL_TRANSPORTS.includes(t))
  ) {
    // With none, nothing would run and the report could only say "not ok".
    throw new RangeError(
      `checkBackend: transports must be one or more of ${ALL_TRANSPORTS.join(', ')}, got ${describeValue(transports)}`,
    );
  }
  const timeoutMs = options.timeoutMs ?? 10_000;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0 || timeoutMs > 600_000) {
    throw new RangeError(
      `checkBackend: timeoutMs must be a number of milliseconds in 1..600000, got ${timeoutMs}`,
    );
  }
  const pollWaitSeconds = options.pollWaitSeconds ?? 1;
  // Whole seconds, as the client sends `wait`: a backend that reads it as an
  // integer would refuse `wait=0.5`, a failure the client never meets.
  if (!Number.isInteger(pollWaitSeconds) || pollWaitSeconds < 1 || pollWaitSeconds > 3600) {
    throw new RangeError(
      `checkBackend: pollWaitSeconds must be an integer from 1 to 3600, got ${describeValue(pollWaitSeconds)}`,
    );
  }
  if (getToken !== undefined && typeof getToken !== 'function') {
    throw new TypeError('checkBackend: getToken must be a function');
  }
  if (token !== undefined && typeof token !== 'string')
    throw new TypeError('checkBackend: token must be a string');
  return {
    base: url,
    services: [...services],
    transports: [...new Set(transports)],
    timeoutMs,
    pollWaitSeconds,
    hasToken: getToken !== undefined || token !== undefined,
    token: (deadline) => settled(() => (getToken ? getToken() : token), deadline, 'getToken()', timeoutMs),
    publish: async (service, deadline) => {
      await settled(() => publish(service), deadline, `publish(${JSON.stringify(service)})`, timeoutMs);
    },
    WebSocket,
  };
}

/**
 * What `work` (the user's code) comes to, or a rejection at `deadline`: a
 * `publish` or `getToken` that never settles must not hold the run for good.
 * Rejects with an error that names `what`.
 */
async function settled<T>(work: () => T | Promise<T>, deadline: number, what: string, timeoutMs: number) {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what} did not settle within the check's ${timeoutMs} ms (timeoutMs)`)),
      Math.max(0, deadline - now()),
    );
  });
  const done = Promise.resolve()
    .then(work)
    .catch((error: unknown) => {
      throw new Error(`${what} threw: ${describeError(error)}`);
    });
  try {
    return await Promise.race([done, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** The first problems, as one line. */
function summary(problems: readonly Problem[]): string {
  const texts = [...new Set(problems.map((p) => p.text))];
  const more = texts.length > 3 ? ` (and ${texts.length - 3} more)` : '';
  return `${texts.slice(0, 3).join('; ')}${more}`;
}

const list = (seqs: readonly number[]): string => (seqs.length === 0 ? 'none' : seqs.join(', '));

/** A connection that got its welcome, shared by the checks that follow the `welcome` check. */
interface Live {
  session: Session;
  welcome: Extract<Opened, { kind: 'open' }>['welcome'];
  welcomedAt: number;
  state: StreamState;
}

/** What the `events` check leaves for the replay checks. */
interface Delivered {
  service: string;
  seqs: number[];
  cursor: Cursor;
}

/**
 * Runs every check; never throws for what the backend does (only for bad
 * options). `WebSocket` is the class WebSocket checks use; without one they
 * are skipped.
 */
export async function runChecks(
  options: CheckBackendOptions,
  WebSocket: CheckerWebSocketClass | undefined,
): Promise<ConformanceReport> {
  const settings = settle(options, WebSocket);
  const startedAt = now();
  const checks: CheckResult[] = [];
  for (const transport of settings.transports) {
    await new TransportChecks(settings, transport, checks).run();
  }
  return {
    ok: checks.every((c) => c.ok) && checks.some((c) => c.status === 'passed'),
    url: settings.base,
    checks,
    durationMs: Math.round(now() - startedAt),
  };
}

/** The checks of one transport. */
class TransportChecks {
  #live: Live | undefined;
  #delivered: Delivered | undefined;
  readonly #sse: boolean;

  constructor(
    private readonly s: Settings,
    private readonly transport: ConformanceTransport,
    private readonly out: CheckResult[],
  ) {
    this.#sse = transport === 'sse';
  }

  async run(): Promise<void> {
    const names = CHECKS[this.transport];
    if (this.transport === 'websocket' && !this.s.WebSocket) {
      for (const name of names) {
        this.#record(
          name,
          skipped('install ws (npm install -D ws): this Node has no WebSocket client'),
          now(),
        );
      }
      return;
    }
    try {
      for (const name of names) await this.#check(name);
    } finally {
      this.#live?.session.close();
      this.#live = undefined;
    }
  }

  #record(name: CheckName, outcome: Outcome, startedAt: number): void {
    this.out.push({
      transport: this.transport,
      name,
      ok: outcome.status !== 'failed',
      status: outcome.status,
      detail: outcome.detail,
      durationMs: Math.round(now() - startedAt),
    });
  }

  async #check(name: CheckName): Promise<void> {
    const startedAt = now();
    const deadline = startedAt + this.s.timeoutMs;
    let outcome: Outcome;
    try {
      outcome = await this.#body(name, deadline);
    } catch (error) {
      outcome = failed(`the check could not run: ${describeError(error)}`);
    }
    this.#record(name, outcome, startedAt);
  }

  #body(name: CheckName, deadline: number): Promise<Outcome> {
    switch (name) {
      case 'auth':
        return this.#auth(deadline);
      case 'welcome':
        return this.#welcome(deadline);
      case 'heartbeat':
        return this.#heartbeat(deadline);
      case 'empty-poll':
        return this.#emptyPoll(deadline);
      case 'events':
        return this.#events(deadline);
      case 'replay':
        return this.#replay(deadline, 'new');
      case 'replay-last-event-id':
        return this.#replay(deadline, 'last-event-id');
      case 'replay-poll-cursor':
        return this.#replay(deadline, 'poll-cursor');
      case 'update':
        return this.#update(deadline);
    }
  }

  async #open(
    params: Omit<OpenParams, 'base' | 'token' | 'pollWaitSeconds' | 'WebSocket'> & { token?: string | null },
  ) {
    const token =
      params.token === null
        ? undefined
        : (params.token ?? (await this.s.token(params.openBy ?? params.deadline)));
    return openSession(this.transport, {
      ...params,
      base: this.s.base,
      token,
      pollWaitSeconds: this.s.pollWaitSeconds,
      WebSocket: this.s.WebSocket,
    });
  }

  /** What the SDK calls the way this transport refuses. */
  get #where(): string {
    return this.transport === 'websocket'
      ? 'docs/protocol.md, Transports: WebSocket'
      : 'docs/protocol.md, HTTP answers';
  }

  async #auth(deadline: number): Promise<Outcome> {
    if (!this.s.hasToken) return skipped('no token or getToken given (a backend that needs no token)');
    const opened = await this.#open({ services: this.s.services, deadline, token: BAD_TOKEN });
    if (opened.kind === 'open') {
      const { session, welcome } = opened;
      let after = '';
      if (this.transport === 'websocket') {
        const next = await session.next(Math.min(deadline, now() + REFUSAL_AFTER_WELCOME_MS));
        const refusal =
          next.kind === 'end'
            ? next.detail
            : next.kind === 'frame' && next.frame.type === 'error'
              ? `error frame ${next.frame.code}`
              : undefined;
        if (refusal) {
          after = `, then refused (${refusal}): the server welcomed before it read the token in hello. The SDK takes that welcome as connected (its circuit breaker counts a success), so with a bad token it reconnects at its backoff for good instead of backing off and opening the circuit; read hello first, and refuse before any welcome`;
        }
      }
      session.close();
      return failed(
        `a bad token was welcomed (connectionId ${JSON.stringify(welcome.connectionId)})${after || ': it must be refused as unauthorized'} (${this.#where})`,
      );
    }
    if (opened.kind === 'broken') {
      return failed(`a bad token: ${opened.detail}; expected ${this.#expectedRefusal()} (${this.#where})`);
    }
    // `code` is what the SDK reads: from the HTTP status, the first error
    // frame (an `error unauthorized` first in a 200 poll answer is read as a
    // 401 would be: docs/protocol.md, Transports: long-poll), or else the close code.
    const ok = opened.code === 'unauthorized' || (opened.code === undefined && opened.closeCode === 4401);
    if (ok) return passed(`a bad token is refused: ${opened.detail}`);
    const why =
      opened.code === 'forbidden' || opened.closeCode === 4403
        ? ': forbidden makes the SDK stop for good, where unauthorized has it refresh the token once'
        : '';
    return failed(
      `a bad token: ${opened.detail}; expected ${this.#expectedRefusal()}${why} (${this.#where})`,
    );
  }

  #expectedRefusal(): string {
    return this.transport === 'websocket'
      ? 'an error frame with code unauthorized (then close 4401), or close 4401'
      : 'HTTP 401 { type: "error", code: "unauthorized", message }';
  }

  async #welcome(deadline: number): Promise<Outcome> {
    // The connection lives on for the heartbeat and events checks.
    const lifetime = deadline + 3 * this.s.timeoutMs;
    const opened = await this.#open({ services: this.s.services, deadline: lifetime, openBy: deadline });
    if (opened.kind === 'refused') {
      const hint =
        this.transport === 'websocket'
          ? ' (over WebSocket the SDK sends the token only in hello { token }, its first frame: never in the URL or a header, PROTOCOL.md, Auth)'
          : '';
      return failed(`the test user's token was refused: ${opened.detail}; expected a welcome${hint}`);
    }
    if (opened.kind === 'broken') return failed(`no valid welcome: ${opened.detail}`);
    const { welcome, session, welcomedAt, first } = opened;
    const state = new StreamState(welcome.cursor, this.s.services, this.#sse);
    this.#live = { session, welcome, welcomedAt, state };
    const problems: string[] = [];
    const late = implausibleTime('welcome.serverTime', welcome.serverTime);
    if (late) problems.push(`${late} (PROTOCOL.md, Frames: welcome)`);
    const missing = this.s.services.filter((service) => !(service in welcome.cursor));
    if (missing.length > 0) {
      problems.push(
        `welcome.cursor ${JSON.stringify(welcome.cursor)} has no ${missing.join(', ')}: per subscribed service it is where the stream starts (docs/protocol.md, Streams and cursors: Welcome cursor)`,
      );
    }
    if (this.#sse && first.event !== 'welcome') {
      problems.push(
        `the welcome came as an SSE message with event: ${first.event ?? '(none)'}: the SDK reads the connectionId only from event: welcome (PROTOCOL.md, Frames: SSE)`,
      );
    }
    if (problems.length > 0) return failed(problems.join('; '));
    return passed(
      `welcome with connectionId ${JSON.stringify(welcome.connectionId)}, heartbeatMs ${welcome.heartbeatMs}, cursor ${JSON.stringify(welcome.cursor)}, serverTime ${Math.round(welcome.serverTime - Date.now())} ms from the local clock`,
    );
  }

  async #heartbeat(deadline: number): Promise<Outcome> {
    const live = this.#live;
    if (!live) return skipped('needs a connection with a welcome (see the welcome check)');
    const { heartbeatMs } = live.welcome;
    const limit = 2 * heartbeatMs + HEARTBEAT_SLACK_MS;
    if (limit > this.s.timeoutMs) {
      return skipped(
        `heartbeatMs > timeoutMs: waiting 2 × heartbeatMs (${2 * heartbeatMs} ms) would pass timeoutMs (${this.s.timeoutMs} ms); raise timeoutMs or lower the backend's heartbeat interval to run it`,
      );
    }
    const until = Math.min(deadline, live.welcomedAt + limit);
    for (;;) {
      const item = await live.session.next(until);
      if (item.kind === 'frame') {
        const { problems } = live.state.apply(item);
        if (item.frame.type !== 'heartbeat') continue;
        const elapsed = Math.round(now() - live.welcomedAt);
        const late = implausibleTime('heartbeat.serverTime', item.frame.serverTime);
        const sse = problems.filter((p) => p.kind === 'sse');
        if (late || sse.length > 0) return failed([late, summary(sse)].filter(Boolean).join('; '));
        return passed(`a heartbeat ${elapsed} ms after the welcome (heartbeatMs ${heartbeatMs})`);
      }
      if (item.kind === 'timeout') {
        return failed(
          `no heartbeat within 2 × heartbeatMs (${2 * heartbeatMs} ms, + ${HEARTBEAT_SLACK_MS} ms) of the welcome with nothing published: one is due every heartbeatMs when idle, and the SDK drops a connection after 2.5 × heartbeatMs without a frame${this.transport === 'websocket' ? ' (WebSocket ping frames do not count: a browser never sees them)' : ''} (PROTOCOL.md, Frames: heartbeat; docs/protocol.md, Transports: Heartbeats)`,
        );
      }
      if (item.kind === 'invalid') return failed(`a frame the SDK refuses: ${item.detail}`);
      if (item.kind === 'end') return failed(`${item.detail} while waiting for a heartbeat`);
    }
  }

  async #emptyPoll(deadline: number): Promise<Outcome> {
    const live = this.#live;
    if (!live) return skipped('needs a connection with a welcome (see the welcome check)');
    const wait = this.s.pollWaitSeconds;
    if (wait * 1000 >= this.s.timeoutMs) {
      return skipped(
        `pollWaitSeconds (${wait} s) is not under timeoutMs (${this.s.timeoutMs} ms): the server may hold the poll that long; raise timeoutMs to run it`,
      );
    }
    const seen: string[] = [];
    for (;;) {
      const item = await live.session.next(deadline);
      if (item.kind === 'empty') {
        if (item.status === 204)
          return passed(`204 after ${item.elapsedMs} ms for a poll with wait=${wait} and nothing new`);
        return failed(
          `200 { frames: [] } after ${item.elapsedMs} ms for a poll with wait=${wait} and nothing new: expected 204 once wait elapsed (PROTOCOL.md, Frames: "Long-poll: 200 { frames: [...] }, or 204")`,
        );
      }
      if (item.kind === 'frame') {
        live.state.apply(item);
        // A heartbeat frame the SDK takes as a 204; anything else needs a reason.
        if (item.frame.type === 'heartbeat') {
          return passed(
            `a heartbeat frame for a poll with wait=${wait} and nothing new (the SDK takes it; PROTOCOL.md asks for 204)`,
          );
        }
        seen.push(item.frame.type);
        if (seen.length > 20) break;
        continue;
      }
      if (item.kind === 'timeout') break;
      if (item.kind === 'invalid') return failed(`a frame the SDK refuses: ${item.detail}`);
      return failed(`${item.detail} (a poll with wait=${wait} and nothing new; expected 204)`);
    }
    return failed(
      seen.length > 0
        ? `a poll with wait=${wait} and nothing new was answered with ${seen.join(', ')} frames: expected 204`
        : `no answer within ${this.s.timeoutMs} ms to a poll with wait=${wait}: the server holds a poll at most wait seconds, then answers 204 (PROTOCOL.md, Endpoints: GET /poll)`,
    );
  }

  async #events(deadline: number): Promise<Outcome> {
    const live = this.#live;
    if (!live) return skipped('needs a connection with a welcome (see the welcome check)');
    const [service = ''] = this.s.services;
    const problems: Problem[] = [];
    const seqs: number[] = [];
    const remember = (): void => {
      if (seqs.length > 0) this.#delivered = { service, seqs: [...seqs], cursor: { ...live.state.cursor } };
    };
    for (let i = 1; i <= EVENT_COUNT; i++) {
      try {
        await this.s.publish(service, deadline);
      } catch (error) {
        remember();
        return failed(describeError(error));
      }
      while (seqs.length < i) {
        const item = await live.session.next(deadline);
        if (item.kind === 'frame') {
          const { problems: found, fresh } = live.state.apply(item);
          problems.push(...found);
          for (const event of fresh) if (event.service === service) seqs.push(event.seq);
        } else if (item.kind === 'invalid') {
          problems.push({ kind: 'event', text: `a frame the SDK refuses and drops: ${item.detail}` });
        } else if (item.kind === 'timeout' || item.kind === 'end') {
          remember();
          const why = item.kind === 'end' ? item.detail : `within ${this.s.timeoutMs} ms`;
          const also = problems.length > 0 ? `; also: ${summary(problems)}` : '';
          return failed(
            `published ${i} event(s) of ${service} one at a time; ${seqs.length} arrived (seqs ${list(seqs)}) ${why}: each must arrive in a batch frame (PROTOCOL.md, Frames: batch)${also}`,
          );
        }
      }
    }
    remember();
    if (problems.length > 0) return failed(summary(problems));
    return passed(
      `${EVENT_COUNT} events of ${service} arrived in order as batches (seqs ${list(seqs)}), each after = the previous cursor, cursor = its last seq${this.#sse ? ', id: = its cursor' : ''}`,
    );
  }

  async #replay(deadline: number, how: 'new' | 'last-event-id' | 'poll-cursor'): Promise<Outcome> {
    const delivered = this.#delivered;
    if (!delivered || delivered.seqs.length < 2) {
      return skipped('needs two events from the events check');
    }
    // The live connection of the checks before is done with: a replay is a connection of its own.
    this.#live?.session.close();
    this.#live = undefined;
    const { service } = delivered;
    const [firstSeq = 0, ...missed] = delivered.seqs;
    const from: Cursor = { ...delivered.cursor, [service]: firstSeq };
    const sent =
      how === 'new'
        ? this.transport === 'websocket'
          ? 'hello.cursor'
          : 'the cursor query parameter'
        : how === 'last-event-id'
          ? 'Last-Event-ID only'
          : 'the cursor of a poll of a live connection';
    const opened = await this.#open({
      services: this.s.services,
      deadline,
      cursor: how === 'poll-cursor' ? undefined : from,
      lastEventIdOnly: how === 'last-event-id',
    });
    if (opened.kind !== 'open') return failed(`could not connect with a cursor (${sent}): ${opened.detail}`);
    const { session, welcome } = opened;
    try {
      if (how === 'poll-cursor') session.rewind?.(from);
      const state = new StreamState(from, this.s.services, this.#sse);
      const wanted = new Set(missed);
      const got: number[] = [];
      const problems: Problem[] = [];
      while (wanted.size > 0) {
        const item: Item = await session.next(deadline);
        if (item.kind === 'frame') {
          const { problems: found, fresh } = state.apply(item);
          problems.push(...found.filter((p) => REPLAY_KINDS.includes(p.kind)));
          for (const event of fresh) {
            if (event.service !== service) continue;
            got.push(event.seq);
            wanted.delete(event.seq);
          }
        } else if (item.kind === 'invalid') {
          problems.push({ kind: 'event', text: `a frame the SDK refuses and drops: ${item.detail}` });
        } else if (item.kind === 'timeout' || item.kind === 'end') {
          const why = item.kind === 'end' ? item.detail : `within ${this.s.timeoutMs} ms`;
          const started = welcome.cursor[service];
          const hint =
            got.length === 0 && started !== undefined && started > firstSeq
              ? ` (welcome.cursor.${service} was ${started}: the server started at its head, not at the cursor${this.transport === 'websocket' ? '; hello.cursor is the cursor object { [service]: seq }, not base64url text' : ''})`
              : '';
          const also = problems.length > 0 ? `; also: ${summary(problems)}` : '';
          return failed(
            `connected with ${service}=${firstSeq} in ${sent}; expected the events after it (seqs ${list(missed)}) replayed, got ${list(got)} ${why}${hint} (PROTOCOL.md, Gaps and replay)${also}`,
          );
        }
      }
      if (problems.length > 0) return failed(summary(problems));
      return passed(`connected with ${service}=${firstSeq} in ${sent}: seqs ${list(missed)} were replayed`);
    } finally {
      session.close();
    }
  }

  async #update(deadline: number): Promise<Outcome> {
    const { services } = this.s;
    if (services.length < 2) {
      return skipped('needs two services in `services` (it subscribes to all but the last, then adds it)');
    }
    this.#live?.session.close();
    this.#live = undefined;
    const initial = services.slice(0, -1);
    const added = services[services.length - 1] as string;
    const opened = await this.#open({ services: initial, deadline });
    if (opened.kind !== 'open') return failed(`could not connect: ${opened.detail}`);
    const { session, welcome } = opened;
    const how = this.transport === 'websocket' ? 'an update frame' : 'POST /update-services';
    try {
      const state = new StreamState(welcome.cursor, services, this.#sse);
      const answer = await session.update(services, deadline);
      if (!answer.ok) return failed(`${how} adding ${added}: ${answer.detail}`);
      let start: number | undefined;
      if (this.transport !== 'websocket') {
        start = answer.cursor?.[added];
        if (start === undefined) {
          return failed(
            `POST /update-services adding ${added} answered ${JSON.stringify({ cursor: answer.cursor })}: its cursor must name each newly added service with its start seq (PROTOCOL.md, Endpoints)`,
          );
        }
        state.start(added, start);
      }
      const problems: Problem[] = [];
      let published = 0;
      // A WebSocket `update` has no answer: an event published before the
      // server read it is not this connection's. Publish again until one arrives.
      let nextPublishAt = now() + (this.transport === 'websocket' ? UPDATE_FRAME_GRACE_MS : 0);
      for (;;) {
        if (now() >= nextPublishAt) {
          await this.s.publish(added, deadline);
          published++;
          nextPublishAt = now() + Math.max(4 * UPDATE_FRAME_GRACE_MS, this.s.timeoutMs / 8);
        }
        const item = await session.next(Math.min(deadline, nextPublishAt));
        if (item.kind === 'frame') {
          const { problems: found, fresh } = state.apply(item);
          // seq, cursor and SSE framing are the events check's: here, that the added service starts where it should.
          problems.push(...found.filter((p) => REPLAY_KINDS.includes(p.kind)));
          if (item.frame.type === 'error') return failed(`${how} adding ${added}: ${summary(found)}`);
          const event = fresh.find((e) => e.service === added);
          if (event) {
            if (problems.length > 0) return failed(summary(problems));
            return passed(
              `${how} added ${added}${start === undefined ? '' : ` (start cursor ${start})`}; its next event (seq ${event.seq}) arrived on the same connection`,
            );
          }
        } else if (item.kind === 'invalid') {
          problems.push({ kind: 'event', text: `a frame the SDK refuses and drops: ${item.detail}` });
        } else if (item.kind === 'end') {
          return failed(`${item.detail} after ${how} adding ${added}`);
        } else if (item.kind === 'timeout' && now() >= deadline) {
          return failed(
            `${how} added ${added}, then ${published} event(s) of it were published; none arrived on the connection within ${this.s.timeoutMs} ms${this.transport === 'websocket' ? ': the server must read update { services, propertyIds } on a live socket and send the added services from their head (PROTOCOL.md, Frames: client to server)' : ''}`,
          );
        }
      }
    } finally {
      session.close();
    }
  }
}
