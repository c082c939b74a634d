import { SERVICE_NAME_PATTERN } from '../protocol/read';
import type { Cursor } from '../protocol/schemas';
import { REFUSALS } from '../transports/failures';
import { isHttpUrl } from '../transports/url';
import { closeMeaning } from '../transports/websocket-codes';
import { describeValue } from '../util/validate';
import { atDeadline, type Item, now } from './queue';
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
 * starts (a gap), events out of order in a batch (only a replay's batches
 * hold several), a reset, an error. seq steps, cursors and SSE framing are
 * the events check's, so that one mistake fails one check.
 */
const REPLAY_KINDS: readonly ProblemKind[] = ['after', 'order', 'reset', 'error'];

/** How long a bad token's welcome gets to be followed by a refusal, for the detail (a server that welcomes before it reads `hello`). */
const REFUSAL_AFTER_WELCOME_MS = 250;

/**
 * How long a bad token in an `auth` frame gets to be refused. PROTOCOL.md
 * does not require a refusal, so waiting longer would only slow down the
 * backends that keep the socket.
 */
const BAD_AUTH_WAIT_MS = 1000;

/** How long a held poll is held before the `held-poll` check publishes (at most half the welcome's `heartbeatMs`). */
const HOLD_MS = 250;

/** Held polls the `held-poll` check tries before it gives up on polls answered before its publish settled. */
const HOLD_ATTEMPTS = 3;

/** The longest `wait` the `held-poll` check asks for: the client's default. */
const MAX_HOLD_WAIT_SECONDS = 25;

/** How long the `reset` check waits for the reset after the welcome before it publishes anyway. */
const RESET_WAIT_MS = 250;

/** How far past the head the `reset` check puts its cursor: seqs no server has issued yet. */
const PAST_HEAD = 1_000_000;

/** A bad token: no backend issues this one. */
export const BAD_TOKEN = 'tabwire-conformance-invalid-token';

/** The checks of each transport, in the order they run. */
export const CHECKS: Record<ConformanceTransport, readonly CheckName[]> = {
  websocket: ['auth', 'welcome', 'heartbeat', 'events', 'token-refresh', 'replay', 'reset', 'update'],
  sse: ['auth', 'welcome', 'heartbeat', 'events', 'replay', 'replay-last-event-id', 'reset', 'update'],
  'long-poll': [
    'auth',
    'welcome',
    'empty-poll',
    'events',
    'held-poll',
    'replay',
    'replay-poll-cursor',
    'reset',
    'update',
  ],
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
  /** `getToken` was given: each call may give a fresh token. */
  refreshes: boolean;
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
    refreshes: getToken !== undefined,
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
  let cancel: (() => void) | undefined;
  // A `publish` whose answer came in while the checker stalled settles first (see atDeadline).
  const late = new Promise<never>((_, reject) => {
    cancel = atDeadline(deadline, () =>
      reject(new Error(`${what} did not settle within the check's ${timeoutMs} ms (timeoutMs)`)),
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
    cancel?.();
  }
}

/** The first problems, as one line. */
function summary(problems: readonly Problem[]): string {
  const texts = [...new Set(problems.map((p) => p.text))];
  const more = texts.length > 3 ? ` (and ${texts.length - 3} more)` : '';
  return `${texts.slice(0, 3).join('; ')}${more}`;
}

/** A frame the SDK's reader refused, as a problem of the check that read it. */
const refusedFrame = (detail: string): Problem => ({
  kind: 'event',
  text: `a frame the SDK refuses and drops: ${detail}`,
});

/** The frames refused on the way, appended to a failure they may explain; '' if none. */
const also = (problems: readonly Problem[]): string =>
  problems.length > 0 ? `; also: ${summary(problems)}` : '';

const list = (seqs: readonly number[]): string => (seqs.length === 0 ? 'none' : seqs.join(', '));

/** Why a held poll must end when an event comes. */
const WAKE =
  'a held poll is answered as soon as there is something new, wait only bounds how long it is held with nothing; else every event reaches the client up to wait late (25 s as the client polls) (PROTOCOL.md, Endpoints: GET /poll)';

/** Why a connection must not be sent events of services it did not subscribe to. */
const FOREIGN =
  'a connection is sent the events of its services only, those it connected with as each update changes them; the client drops any other (suppressed as unsubscribed, in byServiceSuppressed), after every event of the org crossed the network to every connection and was parsed there, and over long-poll answered a held poll (docs/protocol.md, Streams and cursors: Services)';

/** What a cursor past the head must get. */
const RESET_WHY =
  'A cursor the server cannot replay from (past the head: seqs lost) is answered with reset { services, cursor }: the client re-fetches its snapshot and goes on from that cursor (PROTOCOL.md, Frames: reset; Gaps and replay)';

/**
 * What the `reset` check reads after connecting with a cursor past the head:
 * `take` says whether the event it published arrived (`arrived`), why it is
 * lost, or that it needs `more`.
 */
class ResetReading {
  /** What the reset for the service did, once one came. */
  reset: string | undefined;
  /** An event dropped before any reset: the resync of a reset that follows re-fetches it. */
  #dropped: number | undefined;
  /** The first event at or below the cursor after the reset: lost unless a fresh one follows. */
  #droppedAfterReset: number | undefined;
  /** Set by the caller once it published the event. */
  published = false;
  /** The reset came after the publish: its cursor may cover that event, which its resync re-fetches. */
  resetAfterPublish = false;
  readonly #problems: Problem[] = [];

  constructor(
    private readonly state: StreamState,
    private readonly service: string,
  ) {}

  take(item: Item): 'arrived' | 'more' | string {
    const { service } = this;
    if (item.kind === 'timeout' || item.kind === 'end') {
      const why = item.kind === 'end' ? item.detail : 'before the time limit';
      const lost = this.#droppedAfterReset ?? this.#dropped;
      if (lost !== undefined) return this.#lost(lost) + also(this.#problems);
      return `then published one event of ${service}: ${this.reset ?? this.#noReset}, and no event of it arrived ${why}${also(this.#problems)}`;
    }
    if (item.kind === 'invalid') {
      this.#problems.push(refusedFrame(item.detail));
      return 'more';
    }
    if (item.kind !== 'frame') return 'more'; // a long-poll 204
    const { frame } = item;
    const { problems, fresh, stale } = this.state.apply(item);
    if (frame.type === 'error') return summary(problems);
    // A reset is expected here; its SSE framing is judged as a batch's.
    this.#problems.push(...problems.filter((p) => ['after', 'order', 'sse'].includes(p.kind)));
    if (frame.type === 'reset' && frame.services.includes(service)) {
      this.reset = `a reset (reason ${JSON.stringify(frame.reason)}) moved it to ${frame.cursor[service]}`;
      this.resetAfterPublish = this.published;
      // Its resync re-fetches what was dropped before it.
      if (this.#dropped !== undefined) return this.#verdict();
    }
    const lost = stale.find((e) => e.service === service);
    if (lost && this.reset === undefined) this.#dropped ??= lost.seq;
    // After the reset, an event at or below its cursor may be an overlap (a
    // replay from the reset's cursor that repeats the event at it, which
    // dedup drops): lost only if no event past the cursor follows.
    else if (lost) this.#droppedAfterReset ??= lost.seq;
    return fresh.some((e) => e.service === service) ? this.#verdict() : 'more';
  }

  #verdict(): 'arrived' | string {
    return this.#problems.length > 0 ? summary(this.#problems) : 'arrived';
  }

  /** What came instead of a reset: nothing, or only frames the SDK refuses (a reset without its reason). */
  get #noReset(): string {
    return this.#problems.some((p) => p.kind === 'event')
      ? 'no reset the SDK accepts came for it'
      : 'no reset came for it';
  }

  #lost(seq: number): string {
    return `${this.reset ?? this.#noReset}, and its next event (seq ${seq}) is at or below the client's cursor, so the client drops it as one it already has, as every event of ${this.service} up to that cursor`;
  }
}

/** The answer to a held poll, applied to `state`: whether it brought an event of `service`, and what else. */
function readHeld(
  state: StreamState,
  items: readonly Item[],
  status: number,
  service: string,
): { got: boolean; problems: Problem[]; answer: string } {
  let got = false;
  const problems: Problem[] = [];
  for (const item of items) {
    if (item.kind === 'invalid') {
      problems.push(refusedFrame(item.detail));
    } else if (item.kind === 'frame') {
      const { problems: found, fresh } = state.apply(item);
      problems.push(...found.filter((p) => REPLAY_KINDS.includes(p.kind)));
      got ||= fresh.some((e) => e.service === service);
    }
  }
  const types = items.map((item) => (item.kind === 'frame' ? item.frame.type : item.kind));
  const answer =
    types.length > 0
      ? `${status} with ${types.join(', ')} frames`
      : status === 204
        ? '204'
        : `${status} { frames: [] }`;
  return { got, problems, answer };
}

/**
 * The problems of the items a long-poll connection read before the check
 * rewound its cursor (the rest of the opening answer), judged by `state` at
 * the welcome's cursor as the client applied them then. A batch that repeats
 * the event at that cursor (an overlap) would read as a gap against the
 * older cursor of the rewind.
 */
function judgedBefore(items: readonly Item[], state: StreamState): Problem[] {
  return items.flatMap((item): Problem[] => {
    if (item.kind === 'invalid') {
      return [refusedFrame(item.detail)];
    }
    if (item.kind !== 'frame') return [];
    return state.apply(item).problems.filter((p) => REPLAY_KINDS.includes(p.kind));
  });
}

/** True when a poll's answer is heartbeats alone: the server ended the poll for its heartbeat, not for `wait`. */
function heartbeatsOnly(items: readonly Item[]): boolean {
  return items.length > 0 && items.every((item) => item.kind === 'frame' && item.frame.type === 'heartbeat');
}

/** Why an added service's next event is lost: it came at or below the start cursor the server gave. */
function lostAtStart(how: string, added: string, start: number | undefined, seq: number): string {
  const given = start === undefined ? 'the start cursor the server gave' : `its start cursor ${start}`;
  return `${how} added ${added}, but its next event (seq ${seq}) is at or below ${given}: the client drops it as one it already has, so it is lost. The start cursor of an added service is its last seq when the update is applied, so that its next event is past it (PROTOCOL.md, Endpoints: POST /update-services; Gaps and replay)`;
}

/**
 * What a check's detail says of the SSE streams the server ended during it:
 * `resumes` has, per stream resumed, the services its welcome started past
 * the cursor sent.
 */
function resumeNote(resumes: readonly (string | undefined)[]): string {
  const past = resumes.find((text) => text !== undefined);
  const lost = past
    ? `; a reconnect with ${past}: past the cursor, so the events in between are lost unless a batch replays them (PROTOCOL.md, Gaps and replay)`
    : '';
  return ` (note: the server ended the event stream ${resumes.length} time(s); the checker reconnected at once with its cursor, as the SDK reconnects after its backoff, and judged the events across the streams: a server or a proxy may end an SSE stream${lost})`;
}

/**
 * The note for an answer to a poll that the SDK waits after before its next
 * poll (long-poll.ts), `pacedAfter` ms after the poll was sent; with the
 * `heartbeatMs` of the welcome for an answer with a heartbeat.
 */
function pacedNote(pacedAfter: number | undefined, heartbeatMs?: number): string {
  if (pacedAfter === undefined) return '';
  const heartbeat =
    heartbeatMs === undefined
      ? ''
      : ` and a serverTime not half a heartbeatMs (${heartbeatMs} ms) past the last heartbeat's or welcome's (a cache replaying a stored answer, or a server answering at once with a new heartbeat instead of holding the poll)`;
  return ` (note: it came ${pacedAfter} ms after the poll was sent, before wait was up, with no cursor to move on${heartbeat}: the SDK waits before its next poll, 1 s after this one, then 2 s, 4 s and 8 s apart (nor more than its wait), until an answer moves a cursor or brings a heartbeat of the server's clock, so an event may reach the browsers up to 8 s late; a server holds a poll until an event or wait is up, and its heartbeats are heartbeatMs apart by its clock)`;
}

/** What a failure's detail says of a time limit moved on by the checker's own stall (see atDeadline), if it was. */
function stallNote(stalledMs: number | undefined): string {
  if (stalledMs === undefined) return '';
  return ` (note: the checker's own process stalled at the time limit, its timer served ${Math.round(stalledMs)} ms late: the limit was set again that much after it)`;
}

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
  /** The SSE streams the server ended during the current check, resumed as the client would (see {@link resumeNote}). */
  #resumes: (string | undefined)[] = [];
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
    this.#resumes = [];
    let outcome: Outcome;
    try {
      outcome = await this.#body(name, deadline);
    } catch (error) {
      outcome = failed(`the check could not run: ${describeError(error)}`);
    }
    if (this.#resumes.length > 0 && outcome.status !== 'skipped') {
      outcome = { ...outcome, detail: outcome.detail + resumeNote(this.#resumes) };
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
      case 'held-poll':
        return this.#heldPoll(deadline);
      case 'token-refresh':
        return this.#tokenRefresh(deadline);
      case 'replay':
        return this.#replay(deadline, 'new');
      case 'replay-last-event-id':
        return this.#replay(deadline, 'last-event-id');
      case 'replay-poll-cursor':
        return this.#replay(deadline, 'poll-cursor');
      case 'reset':
        return this.#reset(deadline);
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
      // Read at each resume: the check under way is told.
      onResume: (past) => this.#resumes.push(past),
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
    const ok = opened.code === 'unauthorized';
    if (ok) return passed(`a bad token is refused: ${opened.detail}`);
    const why =
      opened.code === 'forbidden'
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
    // The SDK's watchdog restarts at every frame it takes, a resumed SSE
    // stream's welcome too: the bound restarts there.
    let welcomedAt = live.welcomedAt;
    let resumed = false;
    /** What the first heartbeat passed with; then the check waits for the next one. */
    let first: { detail: string; at: number } | undefined;
    for (;;) {
      const until = Math.min(deadline, (first?.at ?? welcomedAt) + limit);
      const item = await live.session.next(until);
      if (item.kind === 'frame') {
        const { problems } = live.state.apply(item);
        if (item.frame.type === 'welcome') {
          welcomedAt = now();
          resumed = true;
          if (first) first.at = welcomedAt;
        }
        if (item.frame.type !== 'heartbeat') continue;
        const late = implausibleTime('heartbeat.serverTime', item.frame.serverTime);
        const sse = problems.filter((p) => p.kind === 'sse');
        if (late || sse.length > 0) return failed([late, summary(sse)].filter(Boolean).join('; '));
        if (first) return passed(`${first.detail}, the next ${Math.round(now() - first.at)} ms after it`);
        const after = resumed
          ? `the welcome of the stream resumed last (${Math.round(now() - live.welcomedAt)} ms after the first welcome; the SDK's watchdog restarts at a reconnect's welcome)`
          : 'the welcome';
        first = {
          detail: `a heartbeat ${Math.round(now() - welcomedAt)} ms after ${after} (heartbeatMs ${heartbeatMs})`,
          at: now(),
        };
      } else if (item.kind === 'timeout') {
        // The check's own time limit came before the next beat was due: the first one is all it can tell.
        // Told by the bound waited for, not the clock: Node fires a timer up to a few ms before it.
        if (first && until === deadline) return passed(first.detail);
        return failed(this.#noHeartbeat(heartbeatMs, first?.detail, resumed) + stallNote(item.stalledMs));
      } else if (item.kind === 'invalid') return failed(`a frame the SDK refuses: ${item.detail}`);
      else if (item.kind === 'end') return failed(`${item.detail} while waiting for a heartbeat`);
    }
  }

  /** Why the heartbeat check failed: none, or one that was not followed by the next. */
  #noHeartbeat(heartbeatMs: number, first: string | undefined, resumed: boolean): string {
    const bound = `2 × heartbeatMs (${2 * heartbeatMs} ms, + ${HEARTBEAT_SLACK_MS} ms)`;
    const what = first
      ? `${first}, then no heartbeat within ${bound} of it with nothing published: one is due every heartbeatMs while idle, not once`
      : `no heartbeat within ${bound} of the ${resumed ? 'welcome of the stream resumed last' : 'welcome'} with nothing published: one is due every heartbeatMs when idle`;
    return `${what}, and the SDK drops a connection after 2.5 × heartbeatMs without a frame${this.transport === 'websocket' ? ' (WebSocket ping frames do not count: a browser never sees them)' : ''} (PROTOCOL.md, Frames: heartbeat; docs/protocol.md, Transports: Heartbeats)`;
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
      const paced = live.session.pacedAfter?.();
      if (item.kind === 'empty') {
        if (item.status === 204)
          return passed(
            `204 after ${item.elapsedMs} ms for a poll with wait=${wait} and nothing new${pacedNote(paced)}`,
          );
        return failed(
          `200 { frames: [] } after ${item.elapsedMs} ms for a poll with wait=${wait} and nothing new: expected 204 once wait elapsed (PROTOCOL.md, Frames: "Long-poll: 200 { frames: [...] }, or 204")`,
        );
      }
      if (item.kind === 'frame') {
        live.state.apply(item);
        // A heartbeat frame the SDK takes as a 204; anything else needs a reason.
        if (item.frame.type === 'heartbeat') {
          return passed(
            `a heartbeat frame for a poll with wait=${wait} and nothing new (the SDK takes it; PROTOCOL.md asks for 204)${pacedNote(paced, live.welcome.heartbeatMs)}`,
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
          problems.push(refusedFrame(item.detail));
        } else if (item.kind === 'timeout' || item.kind === 'end') {
          remember();
          const why = item.kind === 'end' ? item.detail : `within ${this.s.timeoutMs} ms`;
          return failed(
            `published ${i} event(s) of ${service} one at a time; ${seqs.length} arrived (seqs ${list(seqs)}) ${why}: each must arrive in a batch frame (PROTOCOL.md, Frames: batch)${also(problems)}`,
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

  /**
   * Long-poll: an event published while the server holds a poll of the live
   * connection must end that poll. A server that answers only once `wait` is
   * up passes every other check (the next poll brings the event), while
   * every event reaches the client up to `wait` late: 25 s as it polls.
   */
  async #heldPoll(deadline: number): Promise<Outcome> {
    const live = this.#live;
    if (!live) return skipped('needs a connection with a welcome (see the welcome check)');
    if (!this.#delivered)
      return skipped('needs an event delivered on that connection (see the events check)');
    const { session, state, welcome } = live;
    const [service = ''] = this.s.services;
    const holdMs = Math.min(HOLD_MS, welcome.heartbeatMs / 2);
    // As long as the time limit allows: a server with a batch window still answers well within it.
    const longest = Math.min(MAX_HOLD_WAIT_SECONDS, Math.floor((this.s.timeoutMs - holdMs) / 1000));
    const wait = Math.max(this.s.pollWaitSeconds, longest);
    const asked = `a poll with wait=${wait}, during which one event of ${service} was published ${Math.round(holdMs)} ms after it was sent,`;
    for (let attempt = 1; attempt <= HOLD_ATTEMPTS; attempt++) {
      const publish = () => this.s.publish(service, deadline);
      const held = await session.holdPoll?.(wait, holdMs, publish, deadline);
      if (held === undefined) return skipped('long-poll only');
      if (held.kind === 'timeout')
        return failed(`${asked} got no answer within ${this.s.timeoutMs} ms: ${WAKE}`);
      if (held.kind === 'failed') return failed(`${asked} was answered: ${held.detail}`);
      const { got, problems, answer } = readHeld(state, held.items, held.status, service);
      if (problems.length > 0) return failed(summary(problems));
      if (got) return passed(`${asked} was answered with it ${held.elapsedMs} ms after it was sent`);
      // A heartbeat alone before wait was up ended it (a server that ends held polls with its
      // heartbeats), maybe while a batch window still held the event: not a poll held until wait.
      const beat = heartbeatsOnly(held.items) && held.elapsedMs < wait * 1000;
      if (!held.early && !beat) {
        return failed(
          `${asked} was answered with ${answer} ${held.elapsedMs} ms after it was sent, after the publish had settled, without the event: ${WAKE}`,
        );
      }
      // Answered before the publish settled (a heartbeat that ends held
      // polls, a slow publish), or with a heartbeat alone before wait was up: it tells nothing.
      // The next poll brings the event.
      const missing = await this.#awaitEvent(live, service, deadline);
      if (missing) return failed(missing);
    }
    return skipped(
      `each of the ${HOLD_ATTEMPTS} polls held for the check was answered before the publish made during it settled, or with a heartbeat alone before wait was up, so whether an event ends a held poll could not be told`,
    );
  }

  /** Reads the live connection until an event of `service` arrives: why it did not, or `undefined`. */
  async #awaitEvent(live: Live, service: string, deadline: number): Promise<string | undefined> {
    for (;;) {
      const item = await live.session.next(deadline);
      if (item.kind === 'frame' && live.state.apply(item).fresh.some((e) => e.service === service)) return;
      if (item.kind === 'end') return `${item.detail} while waiting for the event of ${service} published`;
      if (item.kind === 'timeout') {
        return `the event of ${service} published did not arrive within ${this.s.timeoutMs} ms (PROTOCOL.md, Frames: batch)`;
      }
    }
  }

  /**
   * A new connection whose cursor of a service is past its head, as a client
   * holds once the server lost seqs (a restore, a wiped store, a cursor of
   * another environment): the server cannot replay from there, so it must
   * send a `reset`. Without one, the stream goes on below the client's
   * cursor, and the client drops every event as one it already has.
   */
  async #reset(deadline: number): Promise<Outcome> {
    const delivered = this.#delivered;
    if (!delivered) return skipped('needs an event from the events check');
    this.#live?.session.close();
    this.#live = undefined;
    const { service } = delivered;
    const known = delivered.cursor[service] ?? 0;
    const past = known + PAST_HEAD;
    const cursor: Cursor = { ...delivered.cursor, [service]: past };
    const sent = `${service}=${past} (past its head, ${known} when the events check ended) in ${this.transport === 'websocket' ? 'hello.cursor' : 'the cursor query parameter'}`;
    const opened = await this.#open({ services: this.s.services, deadline, cursor });
    if (opened.kind !== 'open')
      return failed(`could not connect with ${sent}: ${opened.detail}. ${RESET_WHY}`);
    const { session } = opened;
    try {
      const read = new ResetReading(new StreamState(cursor, this.s.services, this.#sse), service);
      // The reset follows the welcome; an event published before it would be one its resync re-fetches.
      let publishAt: number | undefined = Math.min(deadline, now() + RESET_WAIT_MS);
      let again = false;
      for (;;) {
        if (publishAt !== undefined && (read.reset !== undefined || now() >= publishAt)) {
          publishAt = undefined;
          read.published = true;
          await this.s.publish(service, deadline);
        }
        // A reset that came later (a server that looks the cursor up first)
        // may start past that event, which its resync re-fetches: then the
        // next event must arrive past the reset's cursor.
        if (read.resetAfterPublish && !again) {
          again = true;
          await this.s.publish(service, deadline);
        }
        const item = await session.next(publishAt ?? deadline);
        if (item.kind === 'timeout' && publishAt !== undefined) continue;
        const verdict = read.take(item);
        if (verdict === 'more') continue;
        if (verdict !== 'arrived') return failed(`connected with ${sent}: ${verdict}. ${RESET_WHY}`);
        return passed(
          `connected with ${sent}: ${read.reset ?? 'no reset came for it (its seqs are past that cursor)'}, and its next event arrived`,
        );
      }
    } finally {
      session.close();
    }
  }

  /**
   * WebSocket: `auth { token }` on a live socket, as the SDK's `setToken`
   * sends a refreshed token. The test user's token must keep the socket open
   * and delivering; a bad one is judged by what the SDK does with the answer.
   */
  async #tokenRefresh(deadline: number): Promise<Outcome> {
    if (!this.s.hasToken) return skipped('no token or getToken given (a backend that needs no token)');
    const live = this.#live;
    if (!live) return skipped('needs a connection with a welcome (see the welcome check)');
    if (!this.#delivered)
      return skipped('needs an event delivered on that connection (see the events check)');
    const { session, state } = live;
    const [service = ''] = this.s.services;
    const token = await this.s.token(deadline);
    if (token === undefined) return skipped('getToken() gave no token to send in an auth frame');
    const sent = this.s.refreshes ? 'a fresh token of getToken()' : 'the same token again';
    const where = '(PROTOCOL.md, Frames: client to server)';
    if (!session.auth?.(token))
      return failed('the WebSocket of the checks before closed before the auth frame');
    const problems: Problem[] = [];
    // As for an update frame: an event published before the server read the auth frame tells nothing.
    const publishAt = now() + UPDATE_FRAME_GRACE_MS;
    let published = false;
    for (;;) {
      const item = await session.next(published ? deadline : Math.min(deadline, publishAt));
      if (item.kind === 'timeout') {
        if (now() >= deadline) {
          return failed(
            `sent auth { token } with ${sent} on the live socket, then published one event of ${service}: it did not arrive within ${this.s.timeoutMs} ms; a live socket keeps delivering after an auth frame ${where}${also(problems)}`,
          );
        }
        try {
          await this.s.publish(service, deadline);
        } catch (error) {
          return failed(describeError(error));
        }
        published = true;
      } else if (item.kind === 'end') {
        return failed(
          `${item.detail} after auth { token } with ${sent}: an auth frame refreshes the token of a live socket ${where}; a server that closes it has the SDK reconnect and replay at every token refresh`,
        );
      } else if (item.kind === 'invalid') {
        problems.push(refusedFrame(item.detail));
      } else if (item.kind === 'frame') {
        const { problems: found, fresh } = state.apply(item);
        if (item.frame.type === 'error') {
          return failed(
            `auth { token } with ${sent} was answered with ${summary(found)}: the SDK drops the socket on any error frame and reconnects; the test user's token must be accepted ${where}`,
          );
        }
        problems.push(...found.filter((p) => p.kind === 'reset'));
        if (published && fresh.some((e) => e.service === service)) break;
      }
    }
    if (problems.length > 0) return failed(`after auth { token } with ${sent}: ${summary(problems)}`);
    const good = `auth { token } with ${sent} kept the socket open and the next event of ${service} arrived`;
    return this.#badAuth(session, deadline, good);
  }

  /** A bad token in an `auth` frame on a live socket: what the SDK would do with the answer. */
  async #badAuth(session: Session, deadline: number, good: string): Promise<Outcome> {
    if (!session.auth?.(BAD_TOKEN)) return failed(`${good}, then the socket closed`);
    const until = Math.min(deadline, now() + BAD_AUTH_WAIT_MS);
    let code: string | undefined;
    let answer = '';
    for (;;) {
      const item = await session.next(until);
      if (item.kind === 'timeout') {
        return passed(
          `${good}; a bad token in an auth frame was not refused within ${BAD_AUTH_WAIT_MS} ms (note: PROTOCOL.md leaves open what a server does with it: the SDK keeps the socket and its events; the dev server refuses it as it refuses one in hello, with an error unauthorized frame and close 4401, and the SDK then refreshes the token once and reconnects)`,
        );
      }
      if (item.kind === 'frame' && item.frame.type === 'error') {
        code = item.frame.code;
        answer = `error frame ${code}`;
        break;
      }
      if (item.kind === 'end') {
        // The code the client reads from the close code (4401: unauthorized).
        code = item.closeCode === undefined ? undefined : closeMeaning(item.closeCode, REFUSALS).code;
        answer = item.detail;
        break;
      }
      // A heartbeat, or an error frame without `message`, which the SDK drops: its close decides.
    }
    if (code === 'unauthorized')
      return passed(`${good}; a bad token in an auth frame is refused (${answer})`);
    const why =
      code === 'forbidden'
        ? 'forbidden makes the SDK stop for good'
        : `the SDK reads that as ${code === undefined ? 'a dropped connection' : `a failure (${code})`} and reconnects after its backoff with the refused token, which it clears only on unauthorized, to be refused again before it asks getToken for another`;
    return failed(
      `${good}; a bad token in an auth frame got ${answer}: ${why}; expected an error frame with code unauthorized (then close 4401), or close 4401 (docs/protocol.md, Transports: WebSocket)`,
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
      const problems: Problem[] = [];
      if (how === 'poll-cursor') {
        const before = new StreamState(welcome.cursor, this.s.services, this.#sse);
        problems.push(...judgedBefore(session.rewind?.(from) ?? [], before));
      }
      const state = new StreamState(from, this.s.services, this.#sse);
      const wanted = new Set(missed);
      const got: number[] = [];
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
          problems.push(refusedFrame(item.detail));
        } else if (item.kind === 'timeout' || item.kind === 'end') {
          const why = item.kind === 'end' ? item.detail : `within ${this.s.timeoutMs} ms`;
          const started = welcome.cursor[service];
          const hint =
            got.length === 0 && started !== undefined && started > firstSeq
              ? ` (welcome.cursor.${service} was ${started}: the server started at its head, not at the cursor${this.transport === 'websocket' ? '; hello.cursor is the cursor object { [service]: seq }, not base64url text' : ''})`
              : '';
          return failed(
            `connected with ${service}=${firstSeq} in ${sent}; expected the events after it (seqs ${list(missed)}) replayed, got ${list(got)} ${why}${hint} (PROTOCOL.md, Gaps and replay)${also(problems)}`,
          );
        }
      }
      if (problems.length > 0) return failed(summary(problems));
      return passed(`connected with ${service}=${firstSeq} in ${sent}: seqs ${list(missed)} were replayed`);
    } finally {
      session.close();
    }
  }

  /**
   * After an update, one event of `service`, a service the connection kept:
   * why it did not arrive, or `undefined` when it did.
   */
  async #keptDelivers(
    session: Session,
    state: StreamState,
    service: string,
    deadline: number,
  ): Promise<string | undefined> {
    await this.s.publish(service, deadline);
    for (;;) {
      const item = await session.next(deadline);
      if (item.kind === 'frame') {
        const { problems, fresh } = state.apply(item);
        const found = problems.filter((p) => REPLAY_KINDS.includes(p.kind));
        if (found.length > 0) return `then, for ${service}: ${summary(found)}`;
        if (fresh.some((e) => e.service === service)) return undefined;
      } else if (item.kind === 'end') return `then ${item.detail}`;
      else if (item.kind === 'timeout') {
        return `then an event of ${service}, which the connection kept, did not arrive within ${this.s.timeoutMs} ms: an update changes the services of a live connection in place, and the services it keeps go on delivering (PROTOCOL.md, Endpoints: POST /update-services; Frames: client to server)`;
      }
    }
  }

  /**
   * Before the update, `added` is not one of the connection's services: an
   * event of it, published before one of a service the connection has, must
   * not come before that one. Why it did (or the other never came), or
   * `undefined`. A server that sends every connection every event of the org
   * passes every other check: the client drops such events (suppressed as
   * `unsubscribed`), after they crossed the network.
   */
  async #othersStayOut(
    session: Session,
    state: StreamState,
    initial: readonly string[],
    added: string,
    deadline: number,
  ): Promise<string | undefined> {
    const kept = initial[0] as string;
    await this.s.publish(added, deadline);
    await this.s.publish(kept, deadline);
    const asked = `before the update, one event of ${added}, a service the connection did not subscribe to (it connected with ${initial.join(',')}), then one of ${kept} were published`;
    const refused: Problem[] = [];
    for (;;) {
      const item = await session.next(deadline);
      if (item.kind === 'frame') {
        // Gaps, seqs and cursors are the other checks': here, which services' events come.
        const { problems, fresh, stale } = state.apply(item);
        if (item.frame.type === 'error') return `${asked}: ${summary(problems)}`;
        const other = [...fresh, ...stale].find((e) => e.service === added);
        if (other)
          return `${asked}: the connection was sent the event of ${added} (seq ${other.seq}): ${FOREIGN}`;
        if (fresh.some((e) => e.service === kept)) return undefined;
      } else if (item.kind === 'invalid') {
        refused.push(refusedFrame(item.detail));
      } else if (item.kind === 'end') return `${asked}: ${item.detail}`;
      else if (item.kind === 'timeout') {
        return `${asked}: the event of ${kept} did not arrive within ${this.s.timeoutMs} ms (PROTOCOL.md, Frames: batch)${also(refused)}`;
      }
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
      const foreign = await this.#othersStayOut(session, state, initial, added, deadline);
      if (foreign) return failed(foreign);
      const answer = await session.update(services, deadline);
      if (!answer.ok) return failed(`${how} adding ${added}: ${answer.detail}`);
      // What the update came to when its stream ended while it was in flight.
      const superseded =
        answer.superseded === undefined
          ? undefined
          : `${how} adding ${added} ${answer.superseded.replace(/^POST \/update-services /, '')} after the server ended the event stream it was sent for`;
      let start: number | undefined;
      if (superseded === undefined && this.transport !== 'websocket') {
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
      // server read it is not this connection's. Publish again until one
      // arrives. Over HTTP the answer says the update is applied: one event
      // published after it must arrive (publishing again would hide a first
      // one lost below a start cursor past the head). After a superseded
      // update, the resumed stream's welcome starts the added service: an
      // event before it is not the client's.
      let nextPublishAt =
        superseded === undefined
          ? now() + (this.transport === 'websocket' ? UPDATE_FRAME_GRACE_MS : 0)
          : Number.POSITIVE_INFINITY;
      for (;;) {
        if (now() >= nextPublishAt) {
          await this.s.publish(added, deadline);
          published++;
          nextPublishAt =
            this.transport === 'websocket'
              ? now() + Math.max(4 * UPDATE_FRAME_GRACE_MS, this.s.timeoutMs / 8)
              : Number.POSITIVE_INFINITY;
        }
        const item = await session.next(Math.min(deadline, nextPublishAt));
        if (item.kind === 'frame') {
          const { problems: found, fresh, stale } = state.apply(item);
          // The resumed stream's welcome (see StreamState.apply) starts the added service of a superseded update.
          if (item.frame.type === 'welcome' && superseded !== undefined && published === 0) {
            start = item.frame.cursor[added];
            nextPublishAt = now();
          }
          // seq, cursor and SSE framing are the events check's: here, that the added service starts where it should.
          problems.push(...found.filter((p) => REPLAY_KINDS.includes(p.kind)));
          if (item.frame.type === 'error') return failed(`${how} adding ${added}: ${summary(found)}`);
          const lost = published > 0 ? stale.find((e) => e.service === added) : undefined;
          if (lost) return failed(lostAtStart(how, added, start, lost.seq));
          const event = fresh.find((e) => e.service === added);
          if (event) {
            if (problems.length > 0) return failed(summary(problems));
            const kept = await this.#keptDelivers(session, state, initial[0] as string, deadline);
            if (kept) return failed(`${how} added ${added} and its next event arrived, but ${kept}`);
            if (superseded !== undefined) {
              return passed(
                `${superseded} (note: no failure: the SDK drops the answer of an update whose stream ended, or reconnects on that failure, and reconnects with the services it then wants, as the checker resumed the stream); ${start === undefined ? `the reconnect's welcome named no cursor of ${added}` : `the reconnect's welcome started ${added} at ${start}`}; its next event (seq ${event.seq}) arrived on the resumed stream`,
              );
            }
            return passed(
              `${how} added ${added}${start === undefined ? '' : ` (start cursor ${start})`}; its next event (seq ${event.seq}) arrived on the same connection`,
            );
          }
        } else if (item.kind === 'invalid') {
          problems.push(refusedFrame(item.detail));
        } else if (item.kind === 'end') {
          return failed(`${item.detail} after ${how} adding ${added}`);
        } else if (item.kind === 'timeout' && now() >= deadline) {
          if (superseded !== undefined && published === 0) {
            return failed(
              `${superseded}; the resumed stream brought no welcome within ${this.s.timeoutMs} ms`,
            );
          }
          return failed(
            `${how} added ${added}, then ${published} event(s) of it were published; none arrived on the connection within ${this.s.timeoutMs} ms${this.transport === 'websocket' ? ': the server must read update { services, propertyIds } on a live socket and send the added services from their head (PROTOCOL.md, Frames: client to server)' : start === undefined ? '' : ` (the answer's start cursor was ${added}=${start}: the client asks for the events past it, so an event at or below it is lost; the start cursor is the service's last seq when the update is applied, PROTOCOL.md, Endpoints: POST /update-services)`}`,
          );
        }
      }
    } finally {
      session.close();
    }
  }
}
