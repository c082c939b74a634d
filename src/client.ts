import type { Clock } from './clock';
import { ExponentialBackoff } from './connection/backoff';
import { CircuitBreaker } from './connection/circuit-breaker';
import { ConnectionLoop } from './connection/connection-loop';
import { HeartbeatWatchdog } from './connection/heartbeat-watchdog';
import { watchPageLifecycle } from './connection/page-lifecycle';
import { Timer } from './connection/timer';
import { tokenKit } from './connection/token-kit';
import { anonymousTokens, lazyTokens } from './connection/token-source';
import { shown, showState } from './devtools';
import { RealtimeError } from './errors';
import type { FlagsPoller } from './flags/flags-poller';
import { gateReason } from './flags/gate';
import { RollbackGuard } from './observability/rollback-guard';
import { sampleSession } from './observability/sampling';
import type { SliCollector } from './observability/sli-collector';
import type { Measurement } from './observability/sli-measurement';
import type { SliReporter } from './observability/sli-reporter';
import { SlidingCounter } from './observability/sliding-counter';
import type { SliReport } from './observability/telemetry-payload';
import {
  PendingMutations,
  type TrackedMutation,
  type TrackOptions,
  trackTimeout,
} from './optimistic/tracked-mutation';
import {
  DEFAULT_FLAGS,
  type RealtimeOptions,
  type ResolvedOptions,
  resolveFlags,
  resolveOptions,
} from './options';
import { Dispatcher } from './pipeline/dispatcher';
import { EventPipeline } from './pipeline/event-pipeline';
import { parseServerFrame } from './protocol/parse';
import { isServiceName, readCursor } from './protocol/read';
import type { Cursor, RealtimeEvent, ServerFrame, WelcomeFrame } from './protocol/schemas';
import { initialState, type RealtimeCounters, type RealtimeState, type ResolvedFlags } from './state';
import { createStore, type Store } from './store';
import type { FlagsMessage, StateMessage } from './tabs/channel-messages';
import { channelName } from './tabs/channel-name';
import type { CursorStore } from './tabs/cursor-store';
import { defaultLocks, defaultStorage, type LockManagerLike } from './tabs/leader-election';
import type { BroadcastChannelConstructor } from './tabs/tab-channel';
import { type CoordinatorHost, TabCoordinator, type TabNeeds } from './tabs/tab-coordinator';
import { resolveTransports, TransportChain } from './transports/fallback';
import { reportListenerError } from './util/emitter';
import { guarded } from './util/guarded';
import { randomId } from './util/random-id';
import { fail } from './util/validate';

/** A handler of one service's events: a batch, in seq order, each event once. */
export type EventHandler = (events: RealtimeEvent[]) => void;

/** Payloads of the client's events. */
export interface RealtimeEventMap {
  /** The state changed (the new `getState()`); also `closed`, the last before close() drops every listener. */
  statechange: [state: RealtimeState];
  /** This tab became leader (`true`) or stopped being leader (`false`). */
  leader: [isLeader: boolean];
  /** The server could not replay: re-fetch a snapshot of these services. */
  resync: [info: { services: string[]; reason: string }];
  /** A hole in the stream was found; it is being replayed. */
  gap: [info: { service: string; cursor: number; after: number }];
  /** Access was revoked; realtime stopped for good. */
  forbidden: [error: RealtimeError];
  /** Realtime turned itself off; keep or resume the non-realtime path. */
  fallback: [info: { reason: string }];
  /** A connection attempt failed or a live connection dropped. */
  disconnected: [info: { error: RealtimeError; willRetryInMs: number | undefined }];
  /**
   * A subscriber threw (the others and the stream went on), or a part loaded
   * on demand could not load (`RealtimeError` with code `load_failed`).
   */
  error: [error: unknown];
  /**
   * The periodic SLI snapshot (every 10 s while active), as the telemetry
   * report carries it. The first `sli` listener makes the tab measure SLIs
   * (see `telemetry.measure`); the first snapshot comes a tick later.
   */
  sli: [report: SliReport];
  /** The error rate is above the degraded threshold (default 2 %), below the rollback one. */
  degraded: [info: { errorRate: number }];
  /**
   * Every batch this tab's handlers of a service were given (the property
   * filter applied), once they ran and the state counted it: for glue that watches all services, such
   * as `bindDomEvents` without `services`. Listening subscribes to nothing:
   * events flow only for services something subscribed to.
   */
  events: [service: string, events: RealtimeEvent[]];
}

/** The client `createRealtime` returns. */
export interface RealtimeClient {
  /** Calls `handler` with every batch of `service`'s events; returns the unsubscribe function. */
  subscribe(service: string, handler: EventHandler): () => void;
  /** Narrows delivery to one property (or `null` for all); changes the live subscription in place. */
  setPropertyFilter(propertyId: string | null): void;
  /**
   * Tracks an optimistic write: `result` settles `visible` (with its latency)
   * when an event carrying `mutationId` reaches this tab for a service it
   * subscribes to (also one this tab's property filter, shadow mode or a
   * disabled service keeps from the handlers: the echo proves the write
   * landed), or `timed_out` after `timeoutMs` so the app rolls back. The
   * server sends a browser only the properties its tabs filter on (every
   * one while some tab has no filter), so the echo of a write to another
   * property never comes. Call it before sending the write (the echo can
   * beat the HTTP answer); attach the id with `withMutationId`. An echo
   * that came before this call does not count. Tracking an id that is still
   * pending returns its handle, with its first timeout.
   */
  trackMutation(mutationId: string, options?: TrackOptions): TrackedMutation;
  /** Changes flags at run time (kill switch, rollout, shadow mode). */
  setFlags(flags: Partial<ResolvedFlags>): void;
  /** The current state snapshot; the same object until something changes. */
  getState(): RealtimeState;
  /** Listens to state changes; returns the function that stops listening. */
  subscribeState(listener: (state: RealtimeState) => void): () => void;
  /**
   * Listens to one of the client's events ({@link RealtimeEventMap}: payloads
   * and when each fires); returns the function that stops listening. A
   * listener that throws stops neither the others nor the client.
   */
  on<E extends keyof RealtimeEventMap>(
    event: E,
    listener: (...args: RealtimeEventMap[E]) => void,
  ): () => void;
  /** Stops `listener` listening to `event`, as the function {@link RealtimeClient.on} returned does. */
  off<E extends keyof RealtimeEventMap>(event: E, listener: (...args: RealtimeEventMap[E]) => void): void;
  /** Closes the connection and every listener; the client cannot be used afterwards. */
  close(): Promise<void>;
}

/**
 * Creates a realtime client. Nothing connects until the first `subscribe`;
 * the connection closes `idleGraceMs` after the last unsubscribe. The tabs
 * of one browser (same app key, org and user) elect one leader that holds
 * the connection and relays every frame to the others.
 */
export function createRealtime(options: RealtimeOptions): RealtimeClient {
  return new Client(resolveOptions(options));
}

/** What the leader's `state` message tells the other tabs of its connection. */
const MIRRORED = [
  'status',
  'circuit',
  'transport',
  'lastSuccessAt',
  'connectionId',
  'disabledReason',
  'lastError',
] as const satisfies readonly (keyof RealtimeState & keyof StateMessage)[];

/** Most SLI facts kept while the collector loads; a load that slow may drop the rest. */
const SLI_BACKLOG_MAX = 1000;

/** Per-service figures kept of services this tab no longer subscribes to (see #servicesChanged). */
const LEFT_FIGURES_MAX = 64;

/** Only one replay request per this long from a follower: gaps come in runs. */
const REPLAY_ASK_INTERVAL_MS = 500;
/** How often SLOs, alerts and the rollback guard are evaluated while active. */
const SLI_TICK_MS = 10_000;

class Client implements RealtimeClient, CoordinatorHost {
  readonly #options: ResolvedOptions;
  /** `options.platform.clock`: every timer and duration of the client. */
  readonly #clock: Clock;
  /** `options.platform.wallClock`: the time of day, as the server compares it. */
  readonly #wallClock: () => number;
  readonly #store: Store<RealtimeState>;
  /** Per event, its listeners; replaced, never mutated, so an emit walks a snapshot. */
  #listeners: { [E in keyof RealtimeEventMap]?: readonly ((...args: RealtimeEventMap[E]) => void)[] } = {};
  readonly #dispatcher: Dispatcher;
  readonly #pipeline: EventPipeline;
  readonly #breaker: CircuitBreaker;
  readonly #loop: ConnectionLoop;
  /** Absent with `leader.strategy: 'none'`: the tab then connects on its own. */
  readonly #coordinator: TabCoordinator | undefined;
  readonly #stopLifecycle: () => void;
  /** The grace delay after the last subscriber left (see #servicesChanged). */
  readonly #idleTimer: Timer;
  #updateQueued = false;
  /** What the live connection subscribes to, so an unchanged union sends no update. */
  #liveSubscription: string | undefined;
  #closed = false;
  /** Some subscriber wants events: the tab takes part (election, connection). */
  #active = false;
  #welcomes = 0;
  /** The oldest cursor a follower asked to be replayed from, until the replay came. */
  #replayFloor: Cursor | undefined;
  /**
   * Also set when this tab asks the leader's cursor (a hello, a `sync`): a
   * gap in a batch relayed before the answer is against a cursor that may be
   * of an epoch this tab missed, and asking from it would have the leader
   * reconnect from that seq. The answer asks for what is still missing.
   */
  #lastReplayAskAt = -Infinity;
  /** The cursor last handed to the transport, floor included. */
  #cursorSent: Cursor = {};
  /** The leader's last state, re-applied when this tab's own reason to be off clears. */
  #lastLeaderState: StateMessage | undefined;
  /** Set when this tab took over from a leader it knew: the takeover clock. */
  #takeoverStartedAt: number | undefined;
  #knewOtherLeader = false;
  /** Set once this session measures SLIs (see #measure) and their code is here. */
  #measurement: Measurement | undefined;
  #measuring: Promise<void> | undefined;
  /**
   * While the collector loads: what it would have been told, in order
   * (bounded), so a batch dispatched meanwhile is still measured.
   */
  #sliBacklog: ((sli: SliCollector) => void)[] | undefined;
  /** Kept from the start, as the state shows it in every session. */
  readonly #elections: SlidingCounter;
  /**
   * The flags this tab has from its own page and server, which the other tabs
   * may not know: the options, its own flags URL's documents, and a setFlags
   * made while it was out of the channel. A leader's answer to this tab's
   * hello is merged with these (a disable wins), not with the flags it last
   * heard from other tabs: those may be stale, e.g. a kill switch lifted
   * while this tab had no subscribers and so no channel.
   */
  #ownFlags: ResolvedFlags;
  /**
   * The flags whose value here came from a flags URL document: this tab's
   * last one, or another tab's (heard in a `flags` message's `fromUrl`). A
   * next document of this tab that leaves one out puts the page's own value
   * back, so a switch lifts also where the tab that read it is gone.
   */
  #fromUrl: Record<string, unknown> = {};
  /**
   * Server clock minus `#clock` (ms), estimated at the last welcome, or
   * undefined until then (the offset is then measured as 0). Against the
   * monotonic clock, not the wall clock: a wall clock stepped later (NTP, the
   * user) would skew every latency by the step until the next welcome.
   */
  #serverMinusClockMs: number | undefined;
  readonly #guard: RollbackGuard;
  readonly #mutations: PendingMutations;
  // The reporter (2% of sessions by default), the flags poller (only with
  // `flagsUrl`) and the cursor store (only with `persistCursor`) are loaded
  // when needed, so most apps never download them.
  #reporter: SliReporter | undefined;
  #poller: FlagsPoller | undefined;
  #sliTimer: unknown;
  /** Per service, the last seq handed to this tab's handlers: the invariant the guard watches. */
  readonly #lastDelivered = new Map<string, number>();
  /** With `persistCursor`: where the shared cursor outlives the tabs, once loaded. */
  #cursorStore: CursorStore | undefined;
  /** Settles once the store is loaded, or could not load (then `#cursorStore` stays unset). */
  #cursorStoreLoading: Promise<void> | undefined;
  /** False while the persisted cursor loads: connecting before would skip what it covers. */
  #cursorReady = true;
  /**
   * Set while no handler relies on the pipeline's cursors (a new tab, or one
   * back from idle: they come from storage or from before), so the cursor
   * the leader answers our hello with replaces them. Cleared once a leader
   * answered, once a handler got events (a frame relayed before the answer:
   * the leader's cursor may even be behind it, while it waits for a replay),
   * once a welcome is relayed, and on entering the back/forward cache, whose
   * handlers stay subscribed and must get what they missed there.
   */
  #adoptLeaderCursor = true;
  /**
   * Services a relayed batch started since this tab last heard a cursor
   * answer, and heard every frame since (see #stopConnection): their cursor
   * is of the leader's epoch, whose id the batch did not name, so the next
   * answer's is no reset this tab missed (moved back to a leader's cursor
   * that lags, as one that left the service has, it got the events again).
   */
  readonly #startedByRelay = new Set<string>();
  /**
   * Per service, the id of the epoch this tab's cursor is of: the last
   * `reset` it applied, as its leader named it. A leader answers a hello
   * with its own, so a tab that heard nothing for a while can tell a stream
   * that went back (a reset it missed) from a leader that is merely behind.
   */
  readonly #epochs: Record<string, string> = Object.create(null);
  /**
   * Set when this tab turned realtime off for a reason of its own: it hears
   * no frame until back on, then (a follower) asks the leader's cursor. Not
   * for a `disabled` it mirrors: the leader relayed nothing meanwhile.
   */
  #syncDue = false;
  /**
   * Set in the back/forward cache, out of the union: the other tabs' filters
   * may have left this tab's property out meanwhile, widened again since or
   * not, and the server sent nothing of it. Back, only a replay tells.
   */
  #away = false;
  /** How many times `fallback` fired, for the one repeated after createRealtime. */
  #fallbacks = 0;

  constructor(options: ResolvedOptions) {
    this.#options = options;
    this.#ownFlags = options.flags;
    const platform = options.platform;
    const { clock, wallClock, random } = platform;
    this.#clock = clock;
    this.#wallClock = wallClock;
    this.#idleTimer = new Timer(clock);
    const tabId = randomId();

    // `auto` is locks where the platform has them, else the storage lease, and
    // `none` where there is neither (Node, a worker without storage): there are
    // no other tabs to share with there. Resolved here, it is the one in use
    // (the election resolves `auto` the same way), as the state shows it.
    let { strategy } = options.leader;
    if (strategy === 'auto') {
      strategy =
        (platform.locks ?? defaultLocks()) !== undefined
          ? 'locks'
          : (platform.storage ?? defaultStorage()) !== undefined
            ? 'storage'
            : 'none';
    }
    if (strategy !== 'none') {
      // The platform's clock, locks, storage, BroadcastChannel and window;
      // the options' appKey and scope, and leader.takeoverMs.
      this.#coordinator = new TabCoordinator({
        ...(platform as Omit<ResolvedOptions['platform'], 'locks' | 'BroadcastChannel'> & {
          locks?: LockManagerLike;
          BroadcastChannel?: BroadcastChannelConstructor | null;
        }),
        ...options,
        ...options.leader,
        tabId,
        strategy,
        host: this,
        maxMessageChars: options.maxFrameChars + 4096,
      });
    }

    const sampled = sampleSession(options.telemetry.sampleRate, random, {
      // Where reading it does not throw (privacy modes).
      storage: guarded(() => globalThis.sessionStorage),
    });
    this.#store = createStore(
      initialState({
        tabId,
        isLeader: strategy === 'none',
        electionStrategy: strategy,
        flags: options.flags,
        sampled,
      }),
    );
    this.#elections = new SlidingCounter({ windowMs: 3_600_000, clock });
    this.#guard = new RollbackGuard({
      clock,
      thresholds: options.rollback,
      onChange: (verdict) => {
        // The verdict as the state shows it: all but the guard's own cooldown end
        // (a verdict holds no undefined field).
        const { until, ...rollback } = verdict;
        this.#setState({ rollback });
        if (verdict.state === 'degraded' && verdict.errorRate !== undefined) {
          this.#emit('degraded', { errorRate: verdict.errorRate });
        }
        this.#applyGate();
      },
    });
    this.#mutations = new PendingMutations(clock, options.optimistic.maxPending, (outcome) =>
      this.#toSli((sli) => sli.mutationSettled(outcome)),
    );
    // The page's, as every part that watches the page sees it. Read off
    // `globalThis`, which never throws: undefined outside a browser.
    const page = {
      window: platform.window ?? globalThis.window,
      document: platform.document ?? globalThis.document,
    };
    // Resolved now, so a bad URL throws from createRealtime, not later; and in
    // every session, not only in those the draw sampled. `url` too, for
    // credentials (options.ts checked its form).
    resolveUrl('url', options.url, options.url);
    const url = resolveUrl('telemetry.url', options.telemetry.url, options.url);
    if (sampled) {
      // Both downloads at once; the reporter is made once the collector is here.
      void this.#load(
        Promise.all([this.#measure(), import('./observability/sli-reporter')]),
        ([, { SliReporter }]) => {
          const measurement = this.#measurement;
          // Measuring could not load: there is nothing to report.
          if (!measurement) return;
          // The platform's fetch, clocks and random; the page's window and document.
          this.#reporter = new SliReporter({
            ...platform,
            ...page,
            // Its intervalMs.
            ...options.telemetry,
            url,
            sampled,
            collect: measurement.report,
          });
          if (this.#active) this.#reporter.start();
        },
      );
    } else if (options.telemetry.measure === 'always') {
      void this.#measure();
    }
    const { flagsUrl } = options;
    if (flagsUrl) {
      const url = resolveUrl('flagsUrl.url', flagsUrl.url, options.url);
      this.#load(import('./flags/flags-poller'), ({ FlagsPoller }) => {
        // The platform's fetch and clocks.
        this.#poller = new FlagsPoller({
          ...platform,
          // Its intervalMs.
          ...flagsUrl,
          url,
          onFlags: (document) => {
            if (this.#closed) return;
            // A flag the last document set and this one leaves out is the
            // page's own again: deleting `"emergencyDisable": true` from the
            // document lifts the switch, as setting it to false does.
            const flags = { ...flagsNamedIn(this.#fromUrl, options.flags), ...document };
            this.#fromUrl = { ...document };
            this.#ownFlags = resolveFlags(this.#ownFlags, flags);
            this.#applyFlags(flags);
            // Every tab at once, as a setFlags: one without a flags URL (or
            // whose poll comes later) takes the switch now, and the lift too,
            // also once this tab is gone.
            this.#postFlags(flags, undefined, true);
          },
        });
        if (this.#active) this.#poller.start();
      });
    }
    this.#store.subscribe((state, previous) => {
      // The leader mirrors its connection state, so every tab's getState()
      // tells the truth: once on becoming leader, then at each change.
      if (
        this.#coordinator &&
        state.isLeader &&
        !this.#closed &&
        (!previous.isLeader || MIRRORED.some((key) => state[key] !== previous[key]))
      ) {
        this.#postState();
      }
      this.#emit('statechange', state);
    });

    this.#dispatcher = new Dispatcher({
      onHandlerError: (error) => {
        this.#bumpCounter('handlerErrors');
        this.#emit('error', error);
      },
    });

    this.#pipeline = new EventPipeline(
      {
        onEvents: (service, events) => this.#deliver(service, events),
        onGap: (gap) => {
          this.#bumpCounter('gaps');
          this.#emit('gap', gap);
          if (this.#isLeaderNow()) this.#loop.requestReplay();
          else this.#askLeaderForReplay();
        },
        onResync: ({ services, reason }) => {
          this.#bumpCounter('resyncs');
          // Seqs may restart after a reset (a new epoch): the invariant starts over.
          for (const service of services) this.#lastDelivered.delete(service);
          this.#showCursor();
          this.#emit('resync', { services, reason });
        },
        onSuppressed: (service, count, reason) => {
          this.#addSuppressed(service, count);
          if (reason === 'invalid') this.#toSli((sli) => sli.droppedEvents(count));
        },
      },
      options.dedupWindow,
    );

    this.#breaker = new CircuitBreaker({ ...options.circuit, clock });
    this.#breaker.onStateChange(() => {
      this.#circuitToGuard();
      this.#setState({ circuit: this.#circuitState() });
    });

    const chain = new TransportChain(
      resolveTransports(options.transports, {
        WebSocket: platform.WebSocket as never,
        fetch: platform.fetch,
        // The client's time sources: long-poll's pacing, Retry-After dates.
        clock,
        now: wallClock,
        // SSE parses frames out of its stream itself: it must keep what the core
        // accepts. Long-poll parses answers whole: it must drop what the core would.
        maxFrameChars: options.maxFrameChars,
      }),
    );
    this.#loop = new ConnectionLoop({
      // The options' url, connectTimeoutMs and maxFrameChars.
      ...options,
      chain,
      // The options' getToken and refreshSkewMs; the provider's code only
      // for an app that has a getToken.
      tokens: options.getToken
        ? lazyTokens(() =>
            import('./connection/token-provider').then(
              ({ TokenProvider }) => new TokenProvider({ ...options, clock, wallClock }, tokenKit),
            ),
          )
        : anonymousTokens,
      breaker: this.#breaker,
      backoff: new ExponentialBackoff({ ...options.backoff, floorMs: options.backoff.baseMs, random }),
      watchdog: new HeartbeatWatchdog({ clock, onDead: () => this.#loop.heartbeatMissed() }),
      clock,
      isOnline: () => (platform.navigator ?? globalThis.navigator)?.onLine !== false,
      subscription: () => {
        const subscription = this.#subscription();
        this.#liveSubscription = JSON.stringify(subscription);
        return subscription;
      },
      // Ours, reaching back for a follower's replay.
      cursor: () => {
        // Of the services subscribed to only (see EventPipeline.getCursor).
        this.#cursorSent = lowerTo(this.#pipeline.getCursor(true), this.#replayFloor ?? {});
        return this.#cursorSent;
      },
      sink: {
        status: (status) => this.#setState({ status, circuit: this.#circuitState() }),
        welcome: (frame, transport, connectMs) => {
          this.#coordinator?.relay(frame);
          // The floor asked for was in the cursor this connection opened with:
          // the server replays from it, and the floor is done with. One asked
          // for since, while this connection was being opened, may reach
          // below that cursor: then it stays, and is replayed once this
          // welcome is applied (a reconnect), as nothing else would ask again
          // on a quiet stream. (One since that the cursor covers is done
          // with too: the server replays it as well, unless the asking tab's
          // needs came since, so that this connection may filter out its
          // property: the update to come replays nothing.)
          const floor = this.#replayFloor;
          const sent = this.#cursorSent;
          const replayNow =
            floor &&
            (JSON.stringify(this.#subscription()) !== this.#liveSubscription ||
              Object.keys(floor).some((s) => !(floor[s]! >= sent[s]!)));
          if (!replayNow) this.#replayFloor = undefined;
          this.#guard.recordAttempt(false);
          // The server's time at the welcome, half the connect's round trip
          // ago: a client clock minutes off still measures latency right.
          this.#welcomed(frame, connectMs / 2);
          // Needs that changed while this connection was being opened.
          this.#queueUpdate();
          let { byServiceReconnects, counters, leader, services } = this.#state;
          if (this.#welcomes++ > 0) {
            counters = plus(counters, 'reconnects');
            for (const service of services) byServiceReconnects = plus(byServiceReconnects, service);
          }
          if (this.#takeoverStartedAt !== undefined) {
            const takeoverMs = clock.now() - this.#takeoverStartedAt;
            this.#toSli((sli) => sli.tookOver(takeoverMs));
            leader = { ...leader, lastTakeoverMs: Math.round(takeoverMs) };
            this.#takeoverStartedAt = undefined;
          }
          this.#setState({
            transport,
            connectionId: frame.connectionId,
            lastSuccessAt: wallClock(),
            cursor: this.#pipeline.getCursor(),
            byServiceReconnects,
            leader,
            counters,
          });
          // A reconnect, also over long-poll, and not a replay, which waits
          // when asked again soon (this connection may be one): the batches
          // that follow, of its filter, would move the tabs past the floor.
          if (replayNow) this.#loop.reconnectNow();
        },
        frame: (frame) => {
          // A reset starts an epoch, named here for every tab that applies it.
          const epoch = frame.type === 'reset' ? randomId() : undefined;
          // Relay first: the followers' latency should not include our handlers.
          if (frame.type !== 'heartbeat') this.#coordinator?.relay(frame, epoch);
          this.#guard.recordFrames(1, 0);
          this.#applyServerFrame(frame, epoch);
        },
        invalidFrame: () => this.#invalidFrame(),
        disconnected: (error, willRetryInMs, wasWelcomed) => {
          // A live connection that dropped is no failed attempt (its welcome
          // counted it a success), as the breaker and the docs count them:
          // else two network blips on a quiet stream trip the guard.
          if (!wasWelcomed) this.#guard.recordAttempt(true);
          const { counters } = this.#state;
          this.#setState({
            lastError: `${error.code}: ${error.message}`,
            counters: wasWelcomed ? counters : plus(counters, 'failedConnects'),
            circuit: this.#circuitState(),
          });
          this.#emit('disconnected', { error, willRetryInMs });
        },
        forbidden: (error) => this.#becomeForbidden(error),
        updated: (cursor) => {
          if (cursor) {
            // A service back in the union (its only tab left and returned,
            // or was taken for gone) starts at the server's head, ahead of
            // the cursor the tabs kept for it: have the hole replayed now, as
            // nothing shows it before the service's next event (if any).
            const own = this.#pipeline.getCursor();
            const behind = Object.keys(cursor).some((s) => own[s]! < cursor[s]!);
            this.#pipeline.seed(cursor);
            this.#coordinator?.post({ type: 'cursor', cursor });
            if (behind) this.#loop.requestReplay();
          }
          this.#showCursor();
        },
      },
    });

    this.#stopLifecycle = watchPageLifecycle(page, {
      online: () => this.#loop.online(),
      visible: () => this.#loop.ensureAlive(),
      resumed: (fromBfcache) => {
        if (!fromBfcache) this.#loop.ensureAlive();
        else if (!this.#coordinator) this.#loop.resume();
        else if (this.#active && !this.#closed) {
          this.#lastReplayAskAt = this.#clock.now();
          this.#coordinator?.start();
          this.#applyGate();
        }
      },
      // Into the back/forward cache: hold no socket and no lock there.
      suspended: () => {
        if (!this.#coordinator) this.#loop.suspend();
        else if (this.#active) {
          this.#adoptLeaderCursor = false;
          this.#away = true;
          this.#lastLeaderState = undefined;
          this.#leave('connecting');
        }
      },
      // Say goodbye and free the lease now: with the storage strategy the
      // next leader would otherwise wait takeoverMs for a tab that is gone.
      unloading: () => {
        void this.#cursorStore?.flush();
        void this.#coordinator?.stop();
      },
    });

    if (options.devtools) showState(this);
    // The options' flags, as the state has them: to the dispatcher, and the gate.
    this.#applyFlags();
    // Off from the start, `fallback` fired before the app could listen: again
    // once listeners attached right after createRealtime can hear it, unless
    // realtime came on, or `fallback` fired meanwhile (off for another reason,
    // or on and off again).
    const off = this.#state.disabledReason;
    const fired = this.#fallbacks;
    if (off)
      queueMicrotask(() => {
        if (this.#state.disabledReason === off && this.#fallbacks === fired) this.#fallback(off);
      });
  }

  subscribe(service: string, handler: EventHandler): () => void {
    this.#assertOpen();
    if (!isServiceName(service)) fail('service', 'a name of 1..100 [A-Za-z0-9_.:-]', service);
    if (typeof handler !== 'function')
      throw new TypeError(`handler must be a function, got ${typeof handler}`);
    const off = this.#dispatcher.subscribe(service, handler);
    this.#servicesChanged();
    // Both idempotent, so a second call of the unsubscribe changes nothing.
    return () => {
      off();
      if (!this.#closed) this.#servicesChanged();
    };
  }

  setPropertyFilter(propertyId: string | null): void {
    this.#assertOpen();
    // No commas: SSE and long-poll list the ids comma-separated (PROTOCOL.md),
    // so one with a comma would reach the server as two, and its events be
    // filtered out; over WebSocket it would work, until the fallback.
    if (
      propertyId !== null &&
      (typeof propertyId !== 'string' || propertyId === '' || propertyId.includes(','))
    ) {
      fail('propertyId', 'a non-empty string without commas, or null', propertyId);
    }
    if (propertyId === this.#state.propertyFilter) return;
    this.#dispatcher.setPropertyFilter(propertyId);
    this.#setState({ propertyFilter: propertyId });
    this.#coordinator?.announceNeeds();
    this.#queueUpdate();
  }

  trackMutation(mutationId: string, options: TrackOptions = {}): TrackedMutation {
    this.#assertOpen();
    return this.#mutations.track(
      mutationId,
      trackTimeout(mutationId, options, this.#options.optimistic.timeoutMs),
    );
  }

  setFlags(flags: Partial<ResolvedFlags>): void {
    this.#assertOpen();
    this.#applyFlags(flags);
    // Out of the channel (no subscribers) no other tab hears it: it is this tab's own.
    // In it, every tab hears it: the browser's view carries it from now on, and
    // an own value kept from before (a switch this tab threw while idle) must
    // not come back at the next hello.
    this.#ownFlags = resolveFlags(this.#ownFlags, this.#active ? flagsNamedIn(flags, DEFAULT_FLAGS) : flags);
    for (const key in flags) delete this.#fromUrl[key];
    // Every tab at once: the kill switch above all must not wait for a reload.
    this.#postFlags({ ...flags });
  }

  getState(): RealtimeState {
    return this.#state;
  }

  subscribeState(listener: (state: RealtimeState) => void): () => void {
    // An app listener that throws must not unwind the client mid-update.
    return this.#store.subscribe((state) => guarded(() => listener(state), reportListenerError));
  }

  on<E extends keyof RealtimeEventMap>(
    event: E,
    listener: (...args: RealtimeEventMap[E]) => void,
  ): () => void {
    if (typeof listener !== 'function')
      throw new TypeError(`listener must be a function, got ${typeof listener}`);
    this.#listeners[event] = [...(this.#listeners[event] ?? []), listener] as never;
    // Someone wants the figures: measure them in this tab too.
    if (event === 'sli' && !this.#closed) void this.#measure();
    return () => this.off(event, listener);
  }

  off<E extends keyof RealtimeEventMap>(event: E, listener: (...args: RealtimeEventMap[E]) => void): void {
    this.#listeners[event] = this.#listeners[event]?.filter((l) => l !== listener) as never;
  }

  // Each app listener runs on its own: one that throws neither stops the
  // others nor unwinds the client in the middle of a state change; its error
  // goes where EventTarget would send it (reportError).
  #emit<E extends keyof RealtimeEventMap>(event: E, ...args: RealtimeEventMap[E]): void {
    // A statechange listener that changed the state (close() above all)
    // had every listener told of the newer one: the older must not follow.
    for (const listener of this.#listeners[event] ?? [])
      if (event !== 'statechange' || args[0] === this.#state)
        guarded(() => listener(...args), reportListenerError);
  }

  #fallback(reason: string): void {
    this.#fallbacks++;
    this.#emit('fallback', { reason });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#idleTimer.clear();
    this.#loop.stop();
    this.#breaker.dispose();
    this.#guard.dispose();
    this.#mutations.dispose();
    // The page lives on after close(), so the last report goes by fetch,
    // whose failure is seen and counted, not by a fire-and-forget beacon.
    this.#stopParts();
    this.#stopLifecycle();
    // Also when installDevtools showed it: a closed client is shown no more.
    shown.delete(this);
    this.#setState({ status: 'closed' });
    this.#listeners = {};
    // A handler that closed the client mid-frame must be the last one run:
    // the rest of that batch and the frame's other services go to nobody.
    this.#dispatcher.clear();
    await Promise.all([this.#coordinator?.stop(), this.#cursorStore?.close()]);
  }

  // ── CoordinatorHost: what the other tabs tell this one ──────────────────
  // Only the coordinator calls these, so `#coordinator` is set in them.

  ownNeeds(): TabNeeds {
    const { services, propertyFilter } = this.#state;
    return { services, propertyFilter };
  }

  needsChanged(): void {
    // A service the pipeline forgets loses its epoch too: it has no cursor to be of.
    this.#pipeline.setServices(this.#subscription().services, this.#epochs);
    // Every peer re-announces its needs every 10 s: the same object while
    // the count holds, or each announcement is a new snapshot (a render of
    // every component reading the state) with nothing changed.
    const peers = this.#coordinator!.peerCount;
    const { leader } = this.#state;
    this.#setState({ leader: same(leader, { ...leader, peers }) });
    // Sent only if, by then, this tab leads a live connection.
    this.#queueUpdate();
  }

  leadershipChanged(isLeader: boolean, leaderTabId: string | undefined): void {
    const state = this.#state;
    if (isLeader && !state.isLeader) {
      // A floor from a former term, whose replay never came, is stale: the
      // tabs moved on under other leaders (one still missing events asks
      // again on seeing the hole), and reaching back to it would replay what
      // they have, or reset them all.
      this.#replayFloor = undefined;
      // Churn is leadership moving between tabs: the first election of a tab
      // that never knew another leader is none (counted, every session with a
      // leader failed the < 1 an hour per tab target in its first hour).
      if (this.#knewOtherLeader) {
        this.#elections.add(1);
        this.#takeoverStartedAt = this.#clock.now();
      }
    }
    if (leaderTabId !== undefined && leaderTabId !== state.tabId) this.#knewOtherLeader = true;
    // The connection shown is gone when a follower becomes leader (its own is
    // not open yet: what it showed was the old leader's) or follows a tab
    // other than the one it mirrors (that one crashed, or its lease went
    // stale): nobody holds it. In this very update, so no listener and no
    // post to the other tabs sees the new leader with the old connection.
    const gone =
      state.status !== 'disabled' &&
      (isLeader ? !state.isLeader : this.#lastLeaderState?.from !== leaderTabId);
    this.#setState({
      isLeader,
      leaderTabId,
      leader: {
        ...state.leader,
        elections: this.#coordinator!.electionsWon,
        electionsPerHour: this.#elections.total(),
      },
      ...(gone && { status: 'connecting', transport: undefined, connectionId: undefined }),
    });
    if (isLeader !== state.isLeader) this.#emit('leader', isLeader);
    if (isLeader) {
      this.#applyGate();
      if (this.#loop.isRunning) this.#postState();
    } else if (this.#loop.isRunning) {
      // Another tab leads now (a lease taken over): one connection per browser.
      this.#stopConnection({ status: 'connecting' });
    } else {
      this.#mirrorLeader();
    }
  }

  relayedFrame(raw: string | Record<string, unknown>, epoch: string | undefined): void {
    const off = this.#state.status === 'disabled';
    // Off here means off: no events after `fallback` (a re-enable replays the hole).
    if (this.#isLeaderNow() || !this.#active || (off && !this.#adoptLeaderCursor)) return;
    const parsed = parseServerFrame(raw, this.#options.maxFrameChars);
    if (!parsed.ok) {
      this.#invalidFrame();
      return;
    }
    const frame = parsed.frame;
    this.#guard.recordFrames(1, 0);
    if (frame.type === 'welcome') {
      // Relayed moments ago: no one-way delay to add.
      // Our handlers are owed every event after the cursor this connection
      // starts them at: no leader's cursor may replace ours now. (Tabs that
      // subscribed together, before any led, have their hello answered by
      // none, and a next leader with no cursor of its own, a tab that opened
      // as this one closed, starts at the head, past what they missed.)
      this.#adoptLeaderCursor = false;
      this.#welcomed(frame, 0);
      this.#showCursor();
    } else {
      if (frame.type === 'batch') {
        const own = this.#pipeline.getCursor();
        const adopt = this.#adoptLeaderCursor;
        // A batch starts a service with no cursor there; also one past it while
        // no handler relies on our cursor yet (see #adoptLeaderCursor), as in a
        // new tab: as a gap, its events were dropped, and the leader's answer
        // then skipped them.
        for (const service in frame.after)
          if (own[service] === undefined || (adopt && own[service] < frame.after[service]!)) {
            this.#pipeline.forget(service);
            this.#startedByRelay.add(service);
          }
        // Off (its own switch, before the leader heard of it), it drops them,
        // yet its handlers are owed them: the hole replayed once back on must
        // start here, not at the leader's answer to our hello, past them.
        if (adopt && off && frame.events.some((e) => this.#dispatcher.hasHandlers(e.service))) {
          this.#pipeline.seed(frame.after);
          this.#adoptLeaderCursor = false;
        }
      }
      // A batch or a reset; any other frame changes nothing there.
      off || this.#applyServerFrame(frame, epoch);
    }
  }

  leaderState(message: StateMessage): void {
    const state = this.#state;
    if (this.#isLeaderNow() || state.disabledReason === 'forbidden') return;
    if (message.status === 'disabled' && message.disabledReason === 'forbidden') {
      this.#becomeForbidden(new RealtimeError('forbidden', message.lastError ?? 'access revoked'));
      return;
    }
    this.#lastLeaderState = message;
    // The leader's estimate (see #postState): a tab that joined after the
    // welcome has no other, and one a relayed welcome gave is no better.
    if (message.serverClockOffsetMs !== undefined) this.#setClockOffset(message.serverClockOffsetMs);
    // A reason of this tab's own (flags, its guard) wins over the leader's view.
    if (this.#localDisabledReason() !== undefined) return;
    // A leader going idle or closing is leaving; the next one will speak.
    const status = message.status === 'closed' || message.status === 'idle' ? 'connecting' : message.status;
    const disabledByLeader = status === 'disabled';
    if (disabledByLeader && state.status !== 'disabled') {
      this.#fallback(message.disabledReason ?? 'disabled');
    }
    this.#setState({
      // The leader's connection: what it has none of is gone, except
      // lastSuccessAt and lastError, which stay as they are.
      transport: undefined,
      connectionId: undefined,
      ...pick(message, MIRRORED),
      status,
      disabledReason: disabledByLeader ? message.disabledReason : undefined,
      leaderTabId: message.from,
    });
  }

  flags(flags: FlagsMessage['flags'], direct: boolean, fromUrl: FlagsMessage['fromUrl']): void {
    if (this.#closed) return;
    // Another tab's flags URL set these: as if this tab's own last document
    // had (see #fromUrl), whose next poll then lifts what its document no
    // longer holds. A change someone made now, not marked so, is no longer
    // the URL's; a leader's view leaves this tab's own sources as they are.
    for (const key in flags) {
      if (fromUrl?.includes(key as keyof ResolvedFlags)) this.#fromUrl[key] = 1;
      else if (!direct) delete this.#fromUrl[key];
    }
    this.#poller?.heard(flags, direct, fromUrl);
    // A leader's answer to our hello is its view, which may be older than our
    // own config: there a disable wins. It is newer than what this tab heard
    // from other tabs before (see #ownFlags), so that is not merged in. A
    // setFlags from any tab is a change someone made now, applied as it is.
    // A change another tab made now supersedes this tab's own value of those flags.
    if (!direct) this.#ownFlags = resolveFlags(this.#ownFlags, flagsNamedIn(flags, DEFAULT_FLAGS));
    this.#applyFlags(direct ? disableWins(this.#ownFlags, flags) : flags);
  }

  cursor(cursor: Cursor, direct: boolean, epochs: Record<string, string> = {}): void {
    // Set where this tab's cursor moved here.
    let moved = false;
    if (direct) {
      const own = this.#pipeline.getCursor();
      const adopt = this.#adoptLeaderCursor;
      this.#adoptLeaderCursor = false;
      const missed: string[] = [];
      let behind = false;
      // The leader's epochs too: a reset that gave a service no cursor left
      // it none in the leader's cursor, and its epoch must still be told.
      for (const service in { ...cursor, ...epochs }) {
        const mine = own[service];
        const theirs = cursor[service];
        // Own keys only: a service may be named `toString`, whose inherited
        // function stored in #epochs would make the next answer uncloneable.
        const epoch = Object.hasOwn(epochs, service) ? epochs[service] : undefined;
        // The leader applied a reset this tab did not: the stream went back
        // while it heard nothing, and its cursor is of the old epoch,
        // whether ahead of the leader's, behind it or even equal.
        const missedReset =
          epoch !== undefined && epoch !== this.#epochs[service] && !this.#startedByRelay.has(service);
        if (epoch !== undefined) this.#epochs[service] = epoch;
        if (mine === undefined || (!missedReset && (mine === theirs || theirs === undefined))) continue;
        if (adopt) {
          // Just joined, new or back from idle: no handler relies on the cursor
          // this tab has (persisted, or kept from before), the browser's is the
          // truth. Older, keeping it would make the leader replay for it; newer,
          // the stream went back (a `reset` to a new epoch this tab did not
          // hear) and keeping it would drop the new epoch's events as
          // duplicates. Not so after the back/forward cache: its handlers are
          // still there, and skipping ahead would lose what they missed.
          this.#pipeline.forget(service);
          this.#lastDelivered.delete(service);
          moved = true;
        } else if (missedReset) {
          missed.push(service);
          moved = true;
        } else if (mine < theirs!) {
          behind = true;
        }
      }
      this.#startedByRelay.clear();
      // What the reset told the other tabs, this one hears now: the new
      // epoch's cursor (none where the reset gave none), and a resync (what
      // came before it, the re-fetch covers).
      if (missed.length > 0)
        this.#pipeline.applyFrame({ type: 'reset', services: missed, cursor, reason: 'missed_reset' });
      // Back from the back/forward cache, behind the browser: have the hole
      // replayed now, not when (if ever) the next batch shows it (once: the
      // asks are throttled). Only now: from a missed epoch's seq, the server
      // would replay the new epoch or reset every tab again. Not held back by
      // the asks held while this answer was due (see #lastReplayAskAt).
      // Level with it too, back from the back/forward cache (see #away): the
      // server replays what it filtered out only from a cursor (where a reset
      // was missed, the resync covers it).
      this.#lastReplayAskAt = -Infinity;
      if (behind || (this.#away && !moved)) this.#askLeaderForReplay();
      this.#away = false;
    }
    this.#pipeline.seed(cursor);
    // Moved, maybe back, as by a reset: overwrite the stored cursor, and with
    // it a save of the old one still pending (from a frame relayed before
    // this answer), which would max-merge the old epoch's seq back in.
    if (moved) this.#cursorStore?.replace(this.#pipeline.getCursor());
    this.#showCursor();
  }

  replay(cursor: Cursor): void {
    this.#replayFloor = lowerTo({ ...this.#replayFloor }, cursor);
    this.#loop.requestReplay();
  }

  peerJoined(tabId: string): void {
    if (!this.#isLeaderNow()) return;
    const state = this.#state;
    this.#coordinator!.post({ type: 'leader', leaderTabId: state.tabId });
    this.answerCursor(tabId);
    this.#postFlags(state.flags, tabId);
    this.#postState();
  }

  answerCursor(tabId: string): void {
    this.#coordinator?.post({
      type: 'cursor',
      cursor: this.#pipeline.getCursor(),
      epochs: this.#epochs,
      to: tabId,
    });
  }

  invalidMessage(): void {
    this.#bumpCounter('invalidTabMessages');
  }

  // ── internals ─────────────────────────────────────────────────────────

  /** The state of now (the store's snapshot). */
  get #state(): RealtimeState {
    return this.#store.getState();
  }

  #setState(next: Partial<RealtimeState>): void {
    this.#store.setState(next);
  }

  /** Shows the pipeline's cursor in the state, after it moved. */
  #showCursor(): void {
    this.#setState({ cursor: this.#pipeline.getCursor() });
  }

  /** A frame (direct or relayed) that was not a valid frame of the protocol. */
  #invalidFrame(): void {
    this.#bumpCounter('invalidFrames');
    this.#guard.recordFrames(0, 1);
  }

  /** Without a coordinator (`leader.strategy: 'none'`) the tab is its own leader. */
  #isLeaderNow(): boolean {
    return this.#coordinator?.isLeader ?? true;
  }

  /**
   * Applies a frame from the server (direct or relayed); `epoch`: a reset's
   * id ('' from a leader of an older version, which names none).
   */
  #applyServerFrame(frame: ServerFrame, epoch = ''): void {
    const floor = this.#replayFloor;
    if (floor) {
      if (frame.type === 'batch') {
        // A batch that starts at or before the floor is the replay a follower asked for.
        for (const service in frame.after) {
          // A service the floor has none of compares false: it stays out.
          if (frame.after[service]! <= floor[service]!) delete floor[service];
        }
      } else if (frame.type === 'reset') {
        // The server's answer where it cannot replay, which every tab applies.
        // Kept, the floor would go into every next poll (long-poll has no
        // welcome to drop it) and fetch the same reset, poll after poll.
        for (const service of frame.services) delete floor[service];
      }
      if (Object.keys(floor).length === 0) this.#replayFloor = undefined;
    }
    this.#pipeline.applyFrame(frame);
    if (frame.type === 'batch' || frame.type === 'reset') {
      const cursor = this.#pipeline.getCursor();
      this.#setState({ cursor });
      if (frame.type === 'reset') {
        for (const service of frame.services) this.#epochs[service] = epoch;
        // After a reset a service may move backwards (a new epoch): overwrite.
        this.#cursorStore?.replace(cursor);
      } else this.#cursorStore?.save(cursor);
    }
  }

  /** Applies a welcome (direct or relayed) sent `oneWayMs` ago. */
  #welcomed(frame: WelcomeFrame, oneWayMs: number): void {
    this.#setClockOffset(frame.serverTime + oneWayMs - this.#wallClock());
    this.#pipeline.applyFrame(frame);
  }

  #askLeaderForReplay(): void {
    const now = this.#clock.now();
    if (now - this.#lastReplayAskAt < REPLAY_ASK_INTERVAL_MS) return;
    this.#lastReplayAskAt = now;
    this.#coordinator?.post({ type: 'replay', cursor: this.#pipeline.getCursor(true) });
  }

  #becomeForbidden(error: RealtimeError): void {
    this.#stopConnection({
      status: 'disabled',
      disabledReason: 'forbidden',
      lastError: `${error.code}: ${error.message}`,
    });
    this.#emit('forbidden', error);
    this.#fallback('forbidden');
  }

  /**
   * A follower shows what its leader last posted, if that tab still leads: a
   * crashed one's connection is nobody's (see leadershipChanged).
   */
  #mirrorLeader(): void {
    const last = this.#lastLeaderState;
    if (last && last.from === this.#state.leaderTabId) this.leaderState(last);
  }

  /** Tells the other tabs this leader's connection state (the state of now). */
  #postState(): void {
    this.#coordinator?.post({
      type: 'state',
      ...pick(this.#state, MIRRORED),
      // A tab that opens after the welcome never sees it relayed; the offset
      // is the machine's wall clock against the server's, the same in every
      // tab. Undefined until estimated: the JSON of the message leaves it out.
      serverClockOffsetMs: this.#clockOffsetMs(),
    });
  }

  /**
   * Tells the other tabs (or the tab `to`) these flags, as their message may
   * carry them: `disabledServices` takes any strings (a name that is no
   * service disables nothing), the message only service names, and one
   * other entry made the whole message invalid in every other tab, with the
   * kill switch it carried. `fromUrl`: say which came from a flags URL.
   */
  #postFlags(flags: Partial<ResolvedFlags>, to?: string, fromUrl = !!to): void {
    const services = flags.disabledServices;
    this.#coordinator?.post({
      type: 'flags',
      flags: services ? { ...flags, disabledServices: services.filter(isServiceName) } : flags,
      // Not with a setFlags: what it does not name, it did not leave out.
      fromUrl: fromUrl ? (Object.keys(this.#fromUrl) as FlagsMessage['fromUrl']) : undefined,
      to,
    });
  }

  /** Merges `flags` onto the state's (none: applies those again) and acts on the result. */
  #applyFlags(flags?: Partial<ResolvedFlags>): void {
    const previous = this.#state.flags;
    // Unchanged, the same object: a follower hears each change twice (the
    // change, and the leader's re-send below), and a new object is a new
    // snapshot, a render of every component reading the state.
    const next = same(previous, resolveFlags(previous, flags));
    this.#setState({ flags: next });
    this.#dispatcher.setShadowMode(next.shadowMode);
    this.#dispatcher.setDisabledServices(next.disabledServices);
    this.#applyGate();
    // A tab that joined was told the leader's flags, a disable winning (see
    // `flags`); it must hear when they change too, so that a switch it took
    // from the leader lifts there when it lifts in the leader. After
    // the gate, so the state posted for the change goes first: a tab lifted
    // by these must not mirror the leader's `disabled` of before.
    // The state's, not `next`: the gate ran app listeners, which may have set flags again.
    const coordinator = this.#coordinator;
    const now = this.#state.flags;
    if (coordinator?.isLeader && !this.#closed && now !== previous) {
      for (const to of coordinator.peerIds()) this.#postFlags(now, to);
    }
  }

  #deliver(service: string, events: RealtimeEvent[]): void {
    if (!this.#dispatcher.hasHandlers(service)) return;
    // Handlers now rely on this tab's cursor: a leader's answer to our hello
    // that comes later must not move it (see `cursor`).
    this.#adoptLeaderCursor = false;
    // The promise of the library, checked where it is kept: in order, once.
    let last = this.#lastDelivered.get(service) ?? 0;
    for (const { seq } of events) {
      if (seq <= last) {
        this.#guard.invariantViolation(`${service}: seq ${seq} delivered after ${last}`);
        return;
      }
      last = seq;
    }
    this.#lastDelivered.set(service, last);
    const now = this.#wallClock();
    // Only a tab that measures (or whose collector is loading) pays for this
    // on every batch: most tabs are not sampled. The server's time of this
    // dispatch, as the collector takes it: one still loading is told it later.
    if (this.#measurement || this.#sliBacklog) {
      const at = now + (this.#clockOffsetMs() ?? 0);
      this.#toSli((sli) => sli.delivered(service, events, at));
    }
    // Before the handlers: one that closes the client (which cancels what is
    // pending) or reads a mutation's status must find its echo already seen.
    this.#mutations.observe(events);
    const { delivered, filtered } = this.#dispatcher.dispatch(service, events);
    if (filtered > 0) this.#addSuppressed(service, filtered);
    const state = this.#state;
    this.#setState({
      byServiceDelivered: plus(state.byServiceDelivered, service, delivered.length),
      byServiceLastEventAt: { ...state.byServiceLastEventAt, [service]: now },
    });
    // Once the counters moved, so a listener reading getState() sees it counted.
    if (delivered.length > 0) this.#emit('events', service, delivered);
  }

  /** Every SLI_TICK_MS while active: the guard's time rules and, when measuring, SLOs, alerts and the `sli` event. */
  #sliTick(): void {
    this.#sliTimer = this.#clock.setTimeout(() => {
      if (!this.#active || this.#closed) return;
      this.#guard.evaluate();
      const state = this.#state;
      const { leader } = state;
      this.#setState({
        ...this.#measurement?.figures(state),
        // The same object when unchanged: a tab that does not measure then has
        // nothing new every tick, and its listeners hear nothing.
        leader: same(leader, { ...leader, electionsPerHour: this.#elections.total() }),
      });
      if (this.#measurement) this.#emit('sli', this.#measurement.report());
      // A rollback cooldown may have ended.
      if (this.#state.disabledReason === 'auto_rollback') this.#applyGate();
      // The guard, the state update and `sli` ran app listeners, which may
      // have closed the client (close() cleared this timer, already fired).
      if (!this.#closed) this.#sliTick();
    }, SLI_TICK_MS);
  }

  #setClockOffset(offsetMs: number): void {
    this.#serverMinusClockMs = offsetMs + this.#wallClock() - this.#clock.now();
    this.#measurement?.sli.setClockOffset(offsetMs);
  }

  /** Server clock minus the wall clock of now (ms); undefined until estimated. */
  #clockOffsetMs(): number | undefined {
    const offset = this.#serverMinusClockMs;
    return offset === undefined ? offset : offset + this.#clock.now() - this.#wallClock();
  }

  /**
   * Starts measuring SLIs in this tab: loads the collector (sketches, SLOs,
   * alerts) on first call. Sampled sessions, `telemetry.measure: 'always'`
   * and the first `sli` listener call it; the rest never download it.
   * Measuring starts when the code is here, moments after the call.
   */
  #measure(): Promise<void> {
    if (!this.#measuring) {
      // Only while this load is under way: a call after it (loaded, or failed
      // for good) must not start a backlog that nothing would ever empty.
      this.#sliBacklog = [];
      this.#measuring = this.#load(
        import('./observability/sli-measurement'),
        ({ startMeasuring }) => {
          const measurement = startMeasuring({
            options: this.#options,
            elections: this.#elections,
            window: (windowMs) => new SlidingCounter({ windowMs, clock: this.#clock }),
            // Made here: #measure loads the collector once per client.
            sessionId: randomId(),
            clockOffsetMs: this.#clockOffsetMs() ?? 0,
            // Not state().circuit: a follower's mirrors the leader's breaker.
            circuitOpen: this.#circuitDriven(),
            store: this.#store,
            reportsSent: () => this.#reporter?.stats().sent ?? 0,
          });
          // The backlog, made above as this load started, is dropped below,
          // once this ran (or failed).
          for (const tell of this.#sliBacklog!) tell(measurement.sli);
          this.#measurement = measurement;
          this.#setState({ sli: { ...this.#state.sli, measured: true } });
        },
        // Loaded or failed: either way nothing is kept for it any more.
      ).then(() => {
        this.#sliBacklog = undefined;
      });
    }
    return this.#measuring;
  }

  /** Tells the collector, or keeps it for the collector that is loading (not measuring: drops it). */
  #toSli(tell: (sli: SliCollector) => void): void {
    if (this.#measurement) tell(this.#measurement.sli);
    else if (this.#sliBacklog && this.#sliBacklog.length < SLI_BACKLOG_MAX) this.#sliBacklog.push(tell);
  }

  /** Why this tab itself keeps realtime off (flags, or its own rollback guard). */
  #localDisabledReason(): string | undefined {
    return (
      gateReason(this.#state.flags, this.#options.scope.orgId) ??
      (this.#guard.verdict().state === 'tripped' ? 'auto_rollback' : undefined)
    );
  }

  #servicesChanged(): void {
    const services = this.#dispatcher.services().sort();
    // Service names hold no comma: equal joined, equal lists.
    if (String(services) === String(this.#state.services)) return;
    // Per-service figures of services no longer subscribed: only the latest
    // LEFT_FIGURES_MAX stay, for the reports. All kept, those of every service
    // a long-lived page ever had (one per record page visited, say) stayed for
    // good, and each batch copies these objects: every event cost more with
    // each service visited.
    const state = this.#state;
    const next: Record<string, unknown> = { services };
    const gone = state.services.filter((service) => !services.includes(service));
    for (const key in state)
      if (key.startsWith('byService')) {
        const kept = { ...state[key as 'cursor'] };
        // Those leaving now go last: the keys' order is that of the first
        // figure, and a service subscribed since the page loaded would be
        // the first dropped the moment it is left.
        for (const service of gone) {
          const figure = kept[service]!;
          // Own keys only: `toString` would find Object.prototype's and copy it in.
          if (Object.hasOwn(kept, service)) {
            delete kept[service];
            next[key] = kept;
            kept[service] = figure;
          }
        }
        for (const service of Object.keys(kept)
          .filter((service) => !services.includes(service))
          .slice(0, -LEFT_FIGURES_MAX)) {
          delete kept[service];
          next[key] = kept;
        }
      }
    // And the invariant's seqs: a service subscribed again starts over, as after a reset.
    for (const service of this.#lastDelivered.keys())
      services.includes(service) || this.#lastDelivered.delete(service);
    this.#setState(next);
    // A listener closed the client: no election to join, no idle timer to arm.
    if (this.#closed) return;
    this.#coordinator?.announceNeeds();
    // A service the pipeline forgets loses its epoch too: it has no cursor to be of.
    this.#pipeline.setServices(this.#subscription().services, this.#epochs);
    if (services.length > 0) {
      this.#idleTimer.clear();
      if (!this.#active) this.#activate();
      else this.#queueUpdate();
    } else if (this.#active) {
      // A grace delay, so React StrictMode's unmount+mount or a route change
      // that swaps one subscriber for another causes no reconnect. (None is
      // pending: the services were not empty, and that cleared it.)
      this.#idleTimer.set(() => {
        // (close() clears this timer.)
        if (this.#state.services.length > 0) return;
        // The last subscriber left: let go of everything.
        this.#active = false;
        this.#adoptLeaderCursor = true;
        // What was measured since the last report would wait for a next
        // subscriber that may never come (the tab is closed while idle, and a
        // stopped reporter hears no pagehide): send it now, as close() does, but
        // throttled as a lifecycle flush is: a page may toggle realtime often.
        this.#stopParts(true);
        this.#leave('idle');
        // A `disabled` mirrored from the leader (its guard's trip) is about a
        // connection this tab no longer follows, and #leave kept it: the gate
        // lifts it to `idle`, and keeps a reason of this tab's own.
        this.#applyGate();
      }, this.#options.idleGraceMs);
    }
  }

  /**
   * Creates a lazily loaded part once its module is here, unless the client
   * closed meanwhile. A module that cannot load (offline, a chunk gone after
   * a deploy) leaves the part out, as if the option were not set; the reason
   * is in `counters.lazyLoadFailures` and the `error` event.
   */
  #load<M>(loading: Promise<M>, create: (module: M) => void): Promise<void> {
    return loading
      .then((module) => {
        if (!this.#closed) create(module);
      })
      .catch((error: unknown) => {
        // A module that did not load, or a part that could not be created from it.
        if (this.#closed) return;
        this.#bumpCounter('lazyLoadFailures');
        this.#emit(
          'error',
          new RealtimeError('load_failed', 'could not load a part of tabwire', { cause: error }),
        );
      });
  }

  /** Stops the SLI tick, the reporter (sending what it has) and the flags poller. */
  #stopParts(throttled?: boolean): void {
    this.#clock.clearTimeout(this.#sliTimer);
    this.#reporter?.send(throttled);
    this.#reporter?.stop();
    this.#poller?.stop();
  }

  /** The first subscriber came: join the election (or, alone, connect). */
  #activate(): void {
    this.#active = true;
    // The first transport's code (and the token provider's) downloads while
    // the tabs elect a leader.
    this.#loop.preload();
    this.#sliTick();
    this.#reporter?.start();
    this.#poller?.start();
    const { persistCursor, platform, appKey, scope } = this.#options;
    if (persistCursor) {
      this.#cursorReady = false;
      // The cursor store, loaded and opened on first use (left unset if it could not load).
      this.#cursorStoreLoading ??= this.#load(import('./tabs/cursor-store'), ({ CursorStore }) => {
        this.#cursorStore = new CursorStore({
          name: channelName(appKey, scope),
          read: readCursor,
          indexedDB: platform.indexedDB as IDBFactory | undefined,
          clock: this.#clock,
          now: this.#wallClock,
        });
      });
      void this.#cursorStoreLoading
        .then(() => this.#cursorStore?.load())
        // A store that cannot be read is no persisted cursor: connect without it.
        .catch(() => undefined)
        .then((cursor) => {
          try {
            if (cursor) {
              this.#pipeline.seed(cursor);
              this.#showCursor();
            }
          } finally {
            this.#cursorReady = true;
            this.#applyGate();
          }
        });
    }
    this.#lastReplayAskAt = this.#clock.now();
    this.#coordinator?.start();
    this.#applyGate();
  }

  /** Drops the connection and this tab's part in the election; shows `status` unless disabled. */
  #leave(status: 'idle' | 'connecting'): void {
    // First, so the election's stop does not find a connection to hand over.
    this.#loop.stop();
    void this.#cursorStore?.flush();
    void this.#coordinator?.stop();
    this.#stopConnection({
      status: this.#state.status === 'disabled' ? 'disabled' : status,
      ...(this.#coordinator && { isLeader: false, leaderTabId: undefined }),
    });
  }

  /** Stops the connection (if running) and shows it gone, with `next` for the rest of the state. */
  #stopConnection(next: Partial<RealtimeState>): void {
    this.#loop.stop();
    // Idle, away in the back/forward cache or off, a tab hears no reset.
    this.#startedByRelay.clear();
    this.#setState({ transport: undefined, connectionId: undefined, ...next });
    // Last: the guard may answer with a new verdict, which runs #applyGate.
    this.#circuitToGuard();
  }

  /**
   * Tells the rollback guard whether the circuit is open while this tab tries
   * to connect. A breaker that a stopped loop left open moves to half-open and
   * waits there for a probe that never comes (realtime switched off, the tab
   * idle or now a follower): that time says nothing about the network, and
   * counting it tripped `circuit_open` for the rest of the session, e.g. in
   * every tab whose circuit was open when a kill switch was thrown, once it
   * was lifted. The open time counts again from the loop's next start.
   */
  #circuitToGuard(): void {
    const open = this.#circuitDriven();
    // The circuit SLIs (circuitOpenPercent, the circuitOpen alert) are the
    // connection's, so they follow the same rule: a follower's or an idle
    // tab's stale breaker must not report open time the leader reports too.
    // Told before the guard: a guard that trips stops the loop and calls this
    // again (closed), which a late `open` here would undo, restarting the
    // open time the circuitOpen alert reads at the trip.
    this.#measurement?.sli.circuit(open);
    this.#guard.circuitOpen(open);
  }

  /** The circuit is open (half-open counts) while this tab's loop tries to connect. */
  #circuitDriven(): boolean {
    return this.#loop.isRunning && this.#breaker.snapshot().state !== 'closed';
  }

  /**
   * Several subscribe calls in one tick become one in-place update, sent if
   * this tab then leads a live connection (after close() there is none).
   */
  #queueUpdate(): void {
    if (this.#updateQueued) return;
    this.#updateQueued = true;
    queueMicrotask(() => {
      this.#updateQueued = false;
      // Not connected yet: the welcome checks again (see the welcome sink).
      if (!this.#isLeaderNow() || !this.#loop.isConnected) return;
      // Tabs re-announce their needs every 10 s; an update for nothing would
      // cost a POST and, over long-poll, cut the waiting poll.
      if (JSON.stringify(this.#subscription()) === this.#liveSubscription) return;
      this.#loop.update();
    });
  }

  /** Starts or stops the connection as flags, subscribers and the election say. */
  #applyGate(): void {
    if (this.#closed || this.#state.disabledReason === 'forbidden') return;
    // First: a rollback cooldown it sees ended applies the gate already (the
    // guard's report), and what follows must read the state that left.
    const reason = this.#localDisabledReason();
    const state = this.#state;
    if (reason !== undefined) {
      // Realtime off on purpose is no takeover's delay: a kill switch held
      // for half an hour must not become a 30-minute takeover sample.
      this.#takeoverStartedAt = undefined;
      this.#syncDue = true;
      const wasRunning = state.status !== 'disabled' || state.disabledReason !== reason;
      this.#stopConnection({ status: 'disabled', disabledReason: reason });
      if (wasRunning) this.#fallback(reason);
      return;
    }
    if (state.status === 'disabled') {
      const last = this.#lastLeaderState;
      // A follower whose leader is off stays off, with the leader's reason:
      // through `connecting`, it fired `fallback` again at each SLI tick (which
      // re-applies the gate while `auto_rollback` shows) and each flags message.
      // (A leader's own id is never the `from` of a state it heard.)
      if (last?.status !== 'disabled' || last.from !== state.leaderTabId)
        this.#setState({ status: this.#active ? 'connecting' : 'idle', disabledReason: undefined });
      else this.#mirrorLeader();
      // A follower heard no frame while off: the leader's cursor tells it what
      // it missed (a hole, a reset), as to a tab back from the back/forward
      // cache. (A leader's own connection resumes from its cursor.) Once: a
      // `disabled` mirrored from the leader is lifted here at every SLI tick.
      if (this.#syncDue && this.#active && !this.#isLeaderNow()) {
        this.#syncDue = false;
        // Its handlers were here while it was off: what it missed is theirs,
        // to be replayed, even if no leader answered its hello yet.
        this.#adoptLeaderCursor = false;
        this.#lastReplayAskAt = this.#clock.now();
        this.#coordinator?.post({ type: 'sync', to: state.leaderTabId });
      }
    }
    if (!this.#active) return;
    if (this.#isLeaderNow()) {
      if (!this.#loop.isRunning && this.#cursorReady) {
        this.#loop.start();
        this.#circuitToGuard();
      }
    } else if (this.#state.status === 'connecting') {
      // Back on after a reason of our own: show what the leader last said.
      this.#mirrorLeader();
    } else if (this.#state.status === 'idle') {
      // A follower shows the leader's status once it hears it.
      this.#setState({ status: 'connecting' });
    }
  }

  /** What the connection subscribes to: this tab's needs, or every tab's. */
  #subscription(): { services: string[]; propertyIds: string[] | null } {
    if (this.#coordinator) return this.#coordinator.union();
    const { services, propertyFilter } = this.#state;
    return { services, propertyIds: propertyFilter === null ? null : [propertyFilter] };
  }

  /** The breaker as the state shows it; the same object while nothing changed. */
  #circuitState(): RealtimeState['circuit'] {
    // Already the state's shape: a fresh object with no undefined field. A
    // string and numbers, in the breaker's key order (also a leader's, as the
    // channel reads it): equal JSON, equal circuit.
    return same(this.#state.circuit, this.#breaker.snapshot());
  }

  #bumpCounter(name: keyof RealtimeCounters): void {
    this.#setState({ counters: plus(this.#state.counters, name) });
  }

  #addSuppressed(service: string, count: number): void {
    this.#setState({ byServiceSuppressed: plus(this.#state.byServiceSuppressed, service, count) });
  }

  #assertOpen(): void {
    if (this.#closed) throw new TypeError('this realtime client is closed');
  }
}

/** Merges another tab's view of the flags into ours so that every disable wins. */
function disableWins(own: ResolvedFlags, theirs: FlagsMessage['flags']): Partial<ResolvedFlags> {
  const union = (mine: string[], other: string[] = []) => [...new Set([...mine, ...other])];
  return {
    enabled: own.enabled && theirs.enabled !== false,
    emergencyDisable: own.emergencyDisable || theirs.emergencyDisable === true,
    shadowMode: own.shadowMode || theirs.shadowMode === true,
    rolloutPercent: Math.min(own.rolloutPercent, theirs.rolloutPercent ?? 100),
    disabledOrgs: union(own.disabledOrgs, theirs.disabledOrgs),
    disabledServices: union(own.disabledServices, theirs.disabledServices),
  };
}

/**
 * The values in `from` of the flags `named` has. With `DEFAULT_FLAGS`, the
 * values that disable nothing: a tab holding no opinion of its own on them,
 * so `disableWins` takes the leader's. An unknown name reads `undefined`,
 * which `resolveFlags` skips.
 */
function flagsNamedIn(named: object, from: ResolvedFlags): Partial<ResolvedFlags> {
  const values: Record<string, unknown> = {};
  for (const key in named) values[key] = from[key as keyof ResolvedFlags];
  return values as Partial<ResolvedFlags>;
}

/**
 * The fields `keys` of `from` that are set: the objects of the state (and
 * the leader's `state` message) hold no `undefined` field.
 */
function pick<T extends object, K extends keyof T>(from: T, keys: readonly K[]): Pick<T, K> {
  const picked = {} as Pick<T, K>;
  for (const key of keys) if (from[key] !== undefined) picked[key] = from[key];
  return picked;
}

/** Lowers `cursor` to `floor` where that is older (or `cursor` has no seq); returns `cursor`. */
function lowerTo(cursor: Cursor, floor: Cursor): Cursor {
  for (const service in floor) {
    const seq = floor[service] as number;
    // Also where `cursor` has none: undefined compares false.
    if (!(cursor[service]! <= seq)) cursor[service] = seq;
  }
  return cursor;
}

/** `previous` where `next` has the same JSON: the same object, no new snapshot. */
function same<T>(previous: T, next: T): T {
  return JSON.stringify(previous) === JSON.stringify(next) ? previous : next;
}

/** `counts` with `key` raised by `n`: every counter of the state, per service or not, moves so. */
function plus<T extends Readonly<Record<K, number | undefined>>, K extends keyof T>(
  counts: T,
  key: K,
  n = 1,
): T {
  // `+… || 0`, not `?? 0`: a service may be named `toString`, whose inherited function is no count.
  return { ...counts, [key]: (+counts[key]! || 0) + n };
}

/**
 * `url` made absolute against the page where there is one, else against the
 * realtime base URL. A page that is no base (`about:blank`, `about:srcdoc`)
 * counts as none: now that every session checks the URL, its default would
 * otherwise throw from createRealtime there. A URL with credentials is
 * refused here too, as fetch would refuse it at every request.
 */
function resolveUrl(field: string, url: string, base: string): string {
  const page = (globalThis as { location?: { href?: string } }).location?.href;
  for (const against of [page ?? base, base]) {
    let resolved: URL;
    try {
      resolved = new URL(url, against);
    } catch {
      continue;
    }
    // fetch refuses credentials, but only at each request and naming no
    // option. Masked in the message: either part may be a secret.
    if (resolved.username || resolved.password) {
      resolved.username = resolved.password = '***';
      fail(field, 'a URL without credentials', resolved.href);
    }
    return resolved.href;
  }
  fail(field, 'a URL, absolute or relative to the page', url);
}
