import type { Clock } from '../clock';
import { isRealtimeError, RealtimeError } from '../errors';
import { parseServerFrame } from '../protocol/parse';
import type { Cursor, ServerFrame, WelcomeFrame } from '../protocol/schemas';
import { REFUSALS } from '../transports/failures';
import type { TransportChain } from '../transports/fallback';
import type { TransportCloseReason, TransportConnection } from '../transports/types';
import { guarded } from '../util/guarded';
import { MAX_TIMER_DELAY_MS, retryAfterWait } from '../util/timers';
import type { ExponentialBackoff } from './backoff';
import type { CircuitBreaker } from './circuit-breaker';
import { HEARTBEAT_TIMEOUT_INTERVALS, type HeartbeatWatchdog } from './heartbeat-watchdog';
import { Timer } from './timer';
import type { TokenSource } from './token-source';

/**
 * The longest heartbeat interval the watchdog can time. The protocol allows
 * any positive integer, and the watchdog throws a RangeError for one whose
 * timeout does not fit a timer: a welcome asking for more (a server that
 * means "no heartbeats") is held to this instead of throwing into the
 * transport's callback and leaving the attempt half welcomed.
 */
const MAX_HEARTBEAT_MS = MAX_TIMER_DELAY_MS / HEARTBEAT_TIMEOUT_INTERVALS;

/**
 * A welcomed connection that lived this long (from its opening) proves the
 * server works: its end starts the backoff over. One that ends sooner (a
 * server that sheds or refuses connections once welcomed, a welcome's
 * `heartbeatMs` far below the server's real pace) continues it, or every
 * browser reconnects every 0.5-1 s for good: a live connection's end is no
 * breaker failure.
 */
const STABLE_CONNECTION_MS = 10_000;

// An in-place update's progress (see `update()`): none (0, so falsy), one in
// flight, one in flight and another asked for meanwhile. An enum, as esbuild
// inlines its values.
enum UpdateState {
  Idle,
  InFlight,
  Again,
}

/**
 * What the loop needs to know of the subscription, asked at every connect.
 * Exactly these fields: the loop spreads them into the transport's context.
 */
export interface Subscription {
  services: string[];
  propertyIds: string[] | null;
}

/** How the loop reports to the client. */
export interface ConnectionLoopSink {
  status(status: 'connecting' | 'connected' | 'reconnecting'): void;
  /**
   * `connectMs`: from opening the transport that answered to the welcome, a
   * bound on the round trip (the client halves it to estimate the server's
   * clock; transports tried before it and failed are not in it).
   */
  welcome(frame: WelcomeFrame, transport: string, connectMs: number): void;
  /** A live connection's later welcome: it goes on under this id at the server. */
  reopened(connectionId: string): void;
  /** A valid frame other than welcome/error, for the pipeline. */
  frame(frame: ServerFrame): void;
  invalidFrame(reason: string): void;
  /**
   * An attempt failed, or a live connection ended (`wasWelcomed`: then it is
   * no failed attempt); `willRetryInMs` is the wait before the next.
   */
  disconnected(error: RealtimeError, willRetryInMs: number | undefined, wasWelcomed: boolean): void;
  /** The server said `forbidden`: the loop stopped for good. */
  forbidden(error: RealtimeError): void;
  /** The update answer's start cursor of newly added services. */
  updated(cursor: Cursor | undefined): void;
}

export interface ConnectionLoopDeps {
  url: string;
  chain: TransportChain;
  tokens: TokenSource;
  breaker: CircuitBreaker;
  backoff: ExponentialBackoff;
  watchdog: HeartbeatWatchdog;
  clock: Clock;
  connectTimeoutMs: number;
  maxFrameChars: number;
  isOnline(): boolean;
  subscription(): Subscription;
  cursor(): Cursor;
  sink: ConnectionLoopSink;
}

/**
 * Keeps one connection alive: connect through the transport chain, wait for
 * `welcome`, watch heartbeats, and on any loss reconnect with backoff behind
 * the circuit breaker. Every callback carries the attempt's generation, so a
 * late callback of an abandoned attempt can never act on the current one.
 */
export class ConnectionLoop {
  readonly #deps: ConnectionLoopDeps;
  /**
   * The token's and then the welcome's timeout while an attempt is under
   * way, an in-place update's timeout once welcomed, the retry delay
   * between attempts: one timer, as every teardown
   * clears it and they never overlap (a retry is armed after the teardown of
   * the failed attempt, the timeouts only once the next attempt runs).
   */
  readonly #timer: Timer;
  /**
   * Moved by every attempt and every teardown: a callback of an attempt torn
   * down since (its aborted connect, a late token, a timeout racing a
   * rejection, frames of a closed connection) finds it moved and is ignored.
   * The loop stops only through a teardown (`stop()`, a `forbidden`), and
   * attempts start only while it runs: a generation still current means the
   * loop runs and nothing tore down or started an attempt since.
   */
  #generation = 0;
  #running = false;
  #stopWaitingForBreaker: (() => void) | undefined;
  #everWelcomed = false;
  /**
   * 0 (falsy: generations start at 1) until a 401 is answered by a new token
   * and an immediate retry; then the generation of that retry's attempt (of
   * the wait after a later failure, which no welcome has). Its welcome keeps
   * it set: a 401 on that very connection is the second in a row, or a server
   * that welcomes and then refuses the token would be answered by a new token
   * and an immediate reconnect for ever.
   */
  #authRetry = 0;
  #suspended = false;
  /** Clock time until which the server asked not to be tried again (see `#attempt`). */
  #serverWaitUntil = -Infinity;
  #cancelRefresh: (() => void) | undefined;
  /** One in-place update at a time; another asked meanwhile waits for it. */
  #update: UpdateState = UpdateState.Idle;

  // The current attempt, the one of `#generation`: each attempt starts after
  // the previous one was torn down, so there is never more than one.
  /** Set from asking the transport to connect until the teardown: an attempt is under way. */
  #abort: AbortController | undefined;
  #connection: TransportConnection | undefined;
  #welcomed = false;
  /** `clock.now()` when the transport was asked to connect. */
  #startedAt = 0;
  /**
   * Frames that came before `connect` resolved (a transport may deliver the
   * welcome first): held so the welcome is acted on with the transport known,
   * and in order with what follows it.
   */
  #early: ServerFrame[] = [];
  /** A replay asked soon after the last one, waiting for the backoff (see requestReplay). */
  readonly #replayTimer: Timer;
  #replayedAt = -Infinity;

  constructor(deps: ConnectionLoopDeps) {
    this.#deps = deps;
    this.#timer = new Timer(deps.clock);
    this.#replayTimer = new Timer(deps.clock);
  }

  get isRunning(): boolean {
    return this.#running;
  }

  /** True while a welcomed connection is open. */
  get isConnected(): boolean {
    return this.#welcomed;
  }

  /** Lets the code the first attempt needs (its transport's, the token provider's) download ahead of it. */
  preload(): void {
    this.#deps.chain.preload();
    this.#deps.tokens.preload?.();
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#suspended = false;
    // A new run: its first 401 is a first one, whatever the last run's
    // retried connection left (see #authRetry).
    this.#authRetry = 0;
    void this.#attempt();
  }

  stop(): void {
    this.#running = this.#everWelcomed = false;
    // The teardown also frees the update state and cancels the refresh.
    this.#teardown();
  }

  /**
   * Drops whatever is in progress and connects at once (the `online` event, a
   * tab becoming visible with a dead connection, a bfcache restore).
   */
  reconnectNow(): void {
    // A loop stopped or suspended was torn down then: this teardown finds
    // nothing to drop, and `#attempt` starts nothing.
    this.#teardown();
    void this.#attempt();
  }

  /** Reconnects only if the connection is not healthy (no sooner than the server's wait allows). */
  ensureAlive(): void {
    // Healthy: an attempt under way, or a welcomed connection whose heartbeats
    // are on time (the watchdog runs on the loop's clock: client.ts gives both
    // the same). It watches from the welcome to the teardown, and is never
    // overdue while it does not.
    if (this.#abort && !this.#deps.watchdog.isOverdue()) return;
    this.reconnectNow();
  }

  /** The page went into the back/forward cache: hold no socket there. */
  suspend(): void {
    if (!this.#running) return;
    this.#suspended = true;
    // What the abandoned attempt still reports is ignored (see `#generation`),
    // and resume() starts the next one.
    this.#teardown();
  }

  resume(): void {
    if (!this.#suspended) return;
    // Of a loop stopped since, start() clears it too, and `#attempt` starts nothing.
    this.#suspended = false;
    void this.#attempt();
  }

  /** The heartbeat watchdog found the connection silent for too long. */
  heartbeatMissed(): void {
    // Only a welcomed connection's watchdog runs (every teardown stops it), so
    // the loop runs and `#failed` sees the connection welcomed.
    this.#failed(this.#generation, new RealtimeError('heartbeat_timeout', 'no frame for two heartbeats'));
  }

  /** The network came back: old failures say nothing about the new network. */
  online(): void {
    if (!this.#running) return;
    this.#deps.breaker.reset();
    this.#deps.backoff.reset();
    if (!this.#welcomed) this.reconnectNow();
  }

  /**
   * The pipeline found a gap, or another tab missed frames and the cursor the
   * loop connects with now reaches back for it. A transport that can ask
   * from that cursor in place (long-poll: its next poll) does, at once: left
   * to its next poll, a quiet stream replayed only when the poll waiting at
   * the server came back, up to its whole `wait` later. A stream must
   * reconnect. Gaps come in runs, and one reconnect answers them all: it
   * tears the connection down, so the gaps found until the next welcome ask
   * nothing.
   */
  requestReplay(): void {
    if (!this.#welcomed || this.#replayTimer.pending) return;
    const connection = this.#connection!;
    const clock = this.#deps.clock;
    const replay = () => {
      this.#replayedAt = clock.now();
      // In place, it would ask with the filter of the update in flight, not of
      // the one waiting for it: what only that one lets through is skipped.
      if (connection.replay && this.#update !== UpdateState.Again) connection.replay();
      else this.reconnectNow();
    };
    // A server that answers with the same hole again (PROTOCOL.md has it
    // answer a cursor it cannot replay from with a `reset`) would be asked
    // once per round trip, by every browser: a second ask this soon waits
    // for the backoff, while the connection serves the other services.
    if (clock.now() - this.#replayedAt < STABLE_CONNECTION_MS)
      this.#replayTimer.set(replay, this.#deps.backoff.next());
    else replay();
  }

  /**
   * Changes the live subscription in place; reconnects only if that fails.
   * One update at a time: two in flight could reach the server in the other
   * order (separate HTTP requests) and leave it on the older subscription.
   */
  update(): void {
    // New needs (a tab back from the back/forward cache, out of the property
    // filter meanwhile) are no hole left open: their replay, asked from a
    // cursor level with the stream, must go before the next live batch moves
    // the tabs past what it brings.
    this.#replayedAt = -Infinity;
    // Before the waiting replay goes: it must know this update waits (see requestReplay).
    if (this.#update) this.#update = UpdateState.Again;
    if (this.#replayTimer.pending) {
      this.#replayTimer.clear();
      this.requestReplay();
    }
    // A welcomed attempt always has its connection (see `#early`).
    if (!this.#welcomed || this.#update) return;
    this.#update = UpdateState.InFlight;
    const generation = this.#generation;
    const { services, propertyIds } = this.#deps.subscription();
    // An update the server never answers (`POST /update-services` on a
    // keep-alive connection dropped silently: fetch has no timeout) would hold
    // every later change behind it while the stream stays healthy. It gets
    // `connectTimeoutMs`, as every other wait for the server does; then the
    // loop reconnects, which subscribes to the needs of that time. The
    // attempt timer is free while a connection is welcomed, and a teardown
    // clears it.
    this.#timer.set(() => this.reconnectNow(), this.#deps.connectTimeoutMs);
    this.#connection!.update(services, propertyIds).then(
      (result) => {
        // The answer of a connection torn down since: the teardown freed the
        // update state for the next one, whose own updates (one asked for
        // meanwhile included) this must neither drop nor free, and its
        // cursor belongs to no live stream.
        if (generation !== this.#generation) return;
        this.#timer.clear();
        this.#deps.sink.updated(result?.cursor);
        // Read after the sink: its handlers may have asked for another update.
        const again = this.#update === UpdateState.Again;
        this.#update = UpdateState.Idle;
        if (again) this.update();
      },
      (error: unknown) => {
        // Failed with its connection gone: the retry under way decides. Else
        // the connection is still the welcomed one of a running loop, so
        // this reconnects, and its teardown frees the update state.
        if (generation !== this.#generation) return;
        // A server that said `overloaded` (503 / 429, maybe with Retry-After)
        // is backed off from as when it says so on the stream: an immediate
        // reconnect would ignore the wait it asked for. A 401 refreshes the
        // token first: a plain reconnect would send the refused one again.
        if (isRealtimeError(error, 'overloaded') || isRealtimeError(error, 'unauthorized'))
          this.#failed(generation, error);
        else this.reconnectNow();
      },
    );
  }

  /** Reports the loop down, then connects, after `delay` (a failure's backoff) if one is given. */
  async #attempt(delay = 0): Promise<void> {
    if (!this.#running || this.#suspended) return;
    const generation = ++this.#generation;
    const deps = this.#deps;
    // Not connected (yet or again): `reconnecting` once any connection of this run was welcomed.
    deps.sink.status(this.#everWelcomed ? 'reconnecting' : 'connecting');
    // A status listener may have stopped the loop or started another attempt.
    if (generation !== this.#generation) return;

    // The server asked to be left alone (`retryAfterMs` of `overloaded`):
    // PROTOCOL.md says back off at least that long, whatever starts this
    // attempt (a tab shown again, the network back, a restart after idle, a
    // new leader, the bfcache). Else, in an overload incident, every user
    // switching tabs would hammer the server. The attempt waits its turn.
    // (A failure's backoff is never shorter than the wait it set.)
    const wait = Math.max(this.#serverWaitUntil - deps.clock.now(), delay);
    if (wait > 0) {
      this.#timer.set(() => this.#attempt(), wait);
      return;
    }

    if (!deps.isOnline()) return; // the `online` event restarts us
    if (!deps.breaker.tryAcquire()) {
      // One wait at a time: a retry armed before a listener's reconnect may
      // come here while that attempt's wait is still registered.
      this.#stopWaitingForBreaker?.();
      this.#stopWaitingForBreaker = deps.breaker.onStateChange((to) => {
        if (to !== 'half-open') return;
        this.#stopWaitingForBreaker?.();
        if (generation === this.#generation) void this.#attempt();
      });
      return;
    }

    // One try for the token and the connect: a failed token fetch fails the
    // attempt like a failed connect.
    try {
      const pendingToken = deps.tokens.get();
      // A `getToken` that never settles (a token endpoint that hangs: fetch
      // has no timeout) would hold the attempt for good, and every later one
      // would join the same fetch: it gets `connectTimeoutMs` too, and is then
      // abandoned so the next attempt asks `getToken` again.
      if (deps.tokens.isFetching) {
        this.#timer.set(() => {
          deps.tokens.abandon();
          this.#failed(
            generation,
            new RealtimeError('auth_failed', 'auth.getToken exceeded connectTimeoutMs'),
            false,
          );
        }, deps.connectTimeoutMs);
      }
      const token = await pendingToken;
      if (generation !== this.#generation) return;

      const abort = new AbortController();
      this.#abort = abort;
      this.#startedAt = deps.clock.now();
      // Replaces the token's timeout: the connect gets a full connectTimeoutMs.
      this.#timer.set(
        () => this.#failed(generation, new RealtimeError('connect_timeout', 'no welcome in time')),
        deps.connectTimeoutMs,
      );

      const connection = await deps.chain.connect(
        {
          url: deps.url,
          token,
          // `services` and `propertyIds` (see `Subscription`), asked before the cursor.
          ...deps.subscription(),
          cursor: deps.cursor(),
          getCursor: deps.cursor,
          onFrame: (raw) => this.#onRawFrame(generation, raw),
          onClose: (reason) => this.#failed(generation, closeReasonToError(reason)),
          signal: abort.signal,
        },
        () => {
          this.#startedAt = deps.clock.now();
        },
      );
      // Abandoned meanwhile (a welcome timeout, a reconnect: both abort): a
      // transport that ignored the abort still must not leave a socket open.
      if (generation !== this.#generation) {
        connection.close();
        return;
      }
      this.#connection = connection;
      // Frames from now on bypass `#early` (the connection is set); the next
      // teardown empties it before another attempt could fill it.
      for (const frame of this.#early) this.#onFrame(generation, frame);
    } catch (error) {
      // Explicitly not welcomed: a throw while acting on an early welcome
      // counts as a failed attempt too.
      this.#failed(generation, asRealtimeError(error), false);
    }
  }

  #onRawFrame(generation: number, raw: string | object): void {
    if (generation !== this.#generation) return;
    const parsed = parseServerFrame(raw, this.#deps.maxFrameChars);
    if (!parsed.ok) {
      this.#deps.sink.invalidFrame(parsed.reason);
      return;
    }
    this.#deps.watchdog.beat();
    // The attempt of a current generation is under way (see `#generation`):
    // until its `connect` resolves, frames wait in `#early`.
    if (this.#connection) this.#onFrame(generation, parsed.frame);
    else this.#early.push(parsed.frame);
  }

  #onFrame(generation: number, frame: ServerFrame): void {
    if (generation !== this.#generation) return;
    if (frame.type === 'welcome') this.#onWelcome(generation, frame);
    else if (frame.type === 'error') {
      // The frame's `retryAfterMs` is the error's; it has no other option's key.
      this.#failed(generation, new RealtimeError(errorCodeOf(frame.code), frame.message, frame));
    }
    // Frames before welcome would be read against a cursor not yet seeded.
    else if (this.#welcomed) this.#deps.sink.frame(frame);
    else this.#deps.sink.invalidFrame('before_welcome');
  }

  #onWelcome(generation: number, frame: WelcomeFrame): void {
    // Frames reach here only once the attempt's connection is set (see `#early`).
    // A later welcome on a live connection: the transport reopened it in
    // place (SSE on a refreshed token, long-poll when the server lost it),
    // under the server's new id.
    if (this.#welcomed) {
      this.#deps.sink.reopened(frame.connectionId);
      return;
    }
    const deps = this.#deps;
    this.#timer.clear();
    this.#welcomed = this.#everWelcomed = true;
    deps.chain.noteWelcome(true);
    if (generation !== this.#authRetry) this.#authRetry = 0;
    deps.breaker.recordSuccess();
    // The backoff starts over once this connection has lasted (see #teardown).
    deps.watchdog.start(Math.min(frame.heartbeatMs, MAX_HEARTBEAT_MS));
    // Replaces the schedule of an earlier connection.
    this.#cancelRefresh = deps.tokens.scheduleRefresh((token) => {
      if (generation !== this.#generation) return;
      // A new token on a connection that has lived: a 401 from now on is a first one again.
      this.#authRetry = 0;
      this.#connection!.setToken?.(token);
    });
    // The chain's name of this attempt's connection: another connects only after a teardown.
    deps.sink.welcome(frame, deps.chain.currentName!, deps.clock.now() - this.#startedAt);
    // The sink runs app listeners and the client's gate, which may have
    // stopped or replaced this connection: then it is not connected.
    if (generation === this.#generation) deps.sink.status('connected');
  }

  /**
   * One place decides what a failure means: retry, refresh, or stop.
   * `wasWelcomed` defaults to whether the attempt was welcomed when it failed.
   */
  #failed(generation: number, error: RealtimeError, wasWelcomed = this.#welcomed): void {
    if (generation !== this.#generation) return;
    const deps = this.#deps;
    // No welcome and no server answer: the transport tried last never
    // answered, or connected and then stayed silent or closed (a proxy that
    // holds frames); or every transport failed with no answer at all (then
    // the one blamed is the last of the order already). The chain stops
    // trying it first after twice in a row.
    if (error.code === 'connect_timeout' || (error.code === 'connection_lost' && !wasWelcomed)) {
      deps.chain.noteWelcome(false);
    }
    // Moves the generation: a second report of this failure is ignored.
    this.#teardown();
    // Moves again if a listener below tears down or starts an attempt.
    const idleGeneration = this.#generation;

    if (error.code === 'forbidden') {
      // For good: as `stop()` (its second teardown finds nothing to drop).
      this.stop();
      deps.sink.forbidden(error);
      return;
    }
    // One refresh and an immediate retry; a second 401 in a row is a failure.
    const unauthorized = error.code === 'unauthorized';
    const retryNow = unauthorized && !this.#authRetry;
    // The refused token is never sent again, not even after the backoff of a
    // second 401: a token without `expiresAt` would stay cached for good, and
    // `getToken` never be asked for the good one the app may have by then.
    if (unauthorized) deps.tokens.invalidate();
    let delay = 0;
    // Set at once, for an attempt the sink's listeners start: no attempt has this generation.
    if (retryNow) {
      this.#authRetry = idleGeneration;
    } else {
      // A live connection that dropped is not a failed attempt; the breaker
      // counts attempts that could not get a welcome.
      if (!wasWelcomed) deps.breaker.recordFailure();
      delay = deps.backoff.next(error.retryAfterMs);
      // Failures come from attempts begun once the last wait was over: none (0) leaves none.
      this.#serverWaitUntil = deps.clock.now() + retryAfterWait(error.retryAfterMs);
    }
    deps.sink.disconnected(error, delay, wasWelcomed);
    // The sink's `disconnected` runs the app's handlers, which may stop the
    // loop (`close()`) or start the next attempt themselves. Then that
    // decides: the failed attempt arms no retry of its own (it would start a
    // second attempt beside theirs, without tearing it down) and reports no
    // status.
    if (idleGeneration !== this.#generation) return;
    void this.#attempt(delay);
    // A retry now: its attempt's (see `#authRetry`). After a backoff: its
    // wait's, which no welcome has.
    this.#authRetry &&= this.#generation;
  }

  /** Drops the current attempt, its connection and any pending retry. */
  #teardown(): void {
    const abort = this.#abort;
    const connection = this.#connection;
    const welcomed = this.#welcomed;
    // Counted from its opening: a welcome comes within connectTimeoutMs.
    if (welcomed && this.#deps.clock.now() - this.#startedAt >= STABLE_CONNECTION_MS)
      this.#deps.backoff.reset();
    this.#generation++;
    // Reset before the abort, whose listeners run at once and may call back.
    this.#abort = this.#connection = undefined;
    this.#early = [];
    this.#welcomed = false;
    // The next connection subscribes to the needs of its time; an update
    // still in flight on this one must not hold back those asked for on it.
    this.#update = UpdateState.Idle;
    this.#timer.clear();
    this.#replayTimer.clear();
    this.#stopWaitingForBreaker?.();
    this.#deps.watchdog.stop();
    // Refreshes serve a welcomed connection only: a loop waiting for its
    // next attempt (backoff, an open circuit, offline, the bfcache) would
    // call `getToken` once per token lifetime with nothing to send it on,
    // for hours. The schedule only, the provider stays usable: the next
    // connect's `get()` fetches if the cached token went stale, and its
    // welcome schedules again.
    this.#cancelRefresh?.();
    // An attempt abandoned before its welcome may hold the half-open probe;
    // without giving it back the breaker would stay half-open for good. (A
    // welcome closed the breaker: nothing to give back then.)
    this.#deps.breaker.releaseProbe();
    abort?.abort();
    // A transport that throws on close has nothing left to close.
    guarded(() => connection?.close());
  }
}

/** The code of a server's `error` frame if it keeps its meaning (see `REFUSALS`), else `server_error`. */
function errorCodeOf(code: string): RealtimeError['code'] {
  return REFUSALS.has(code) ? (code as RealtimeError['code']) : 'server_error';
}

function closeReasonToError(reason: TransportCloseReason): RealtimeError {
  if (isRealtimeError(reason.error)) return reason.error;
  const status = reason.status;
  const code: RealtimeError['code'] = reason.code
    ? errorCodeOf(reason.code)
    : status === 401
      ? 'unauthorized'
      : status === 403
        ? 'forbidden'
        : status === 429 || status === 503
          ? 'overloaded'
          : 'connection_lost';
  // The reason's `status` and `retryAfterMs` are the error's; its `error`, the cause.
  return new RealtimeError(code, `connection closed${status ? ` (${status})` : ''}`, {
    ...reason,
    cause: reason.error,
  });
}

function asRealtimeError(error: unknown): RealtimeError {
  if (isRealtimeError(error)) return error;
  return new RealtimeError('connection_lost', error instanceof Error ? error.message : String(error), {
    cause: error,
  });
}
