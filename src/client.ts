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
import { RollbackGuard, type RollbackReason } from './observability/rollback-guard';
import { sampleSession } from './observability/sampling';
import type { SliCollector } from './observability/sli-collector';
import type { Measurement } from './observability/sli-measurement';
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
import { isPropertyId } from './protocol/property-id';
import { isServiceName, readCursor } from './protocol/read';
import type { Cursor, RealtimeEvent, ServerFrame, WelcomeFrame } from './protocol/schemas';
import {
  initialState,
  type LeaderInfo,
  type RealtimeCounters,
  type RealtimeState,
  type ResolvedFlags,
} from './state';
import { createStore } from './store';
import type {
  ClockEstimate,
  CursorMessage,
  FlagsMessage,
  FrameMessage,
  ReplayMessage,
  StateMessage,
} from './tabs/channel-messages';
import { channelName } from './tabs/channel-name';
import type { CursorStore } from './tabs/cursor-store';
import { defaultLocks, defaultStorage, type LockManagerLike } from './tabs/leader-election';
import type { BroadcastChannelConstructor } from './tabs/tab-channel';
import { type CoordinatorHost, TabCoordinator } from './tabs/tab-coordinator';
import { resolveTransports, TransportChain, type TransportPlatform } from './transports/fallback';
import { noop, reportListenerError } from './util/emitter';
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
  /**
   * Calls `handler` with every batch of `service`'s events; returns the
   * unsubscribe function. An invalid service name is refused (RangeError) in
   * every build; a `handler` that is no function (TypeError) in the default
   * build only: the `production` build trusts it (docs/options.md).
   */
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
   * pending returns its handle, with its first timeout. An invalid
   * `mutationId` or `timeoutMs` is refused (RangeError) in the default
   * build; the `production` build trusts them (docs/options.md).
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
   * listener that throws stops neither the others nor the client. One that
   * is no function is refused (TypeError) in the default build; the
   * `production` build trusts it (docs/options.md).
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

/** Per-service figures kept of services this tab no longer subscribes to (see servicesChanged). */
const LEFT_FIGURES_MAX = 64;

/** Only one replay request per this long from a follower: gaps come in runs. */
const REPLAY_ASK_INTERVAL_MS = 500;
/** How often SLOs, alerts and the rollback guard are evaluated while active. */
const SLI_TICK_MS = 10_000;

/**
 * Creates a realtime client. Nothing connects until the first `subscribe`;
 * the connection closes `idleGraceMs` after the last unsubscribe. The tabs
 * of one browser (same app key, org and user) elect one leader that holds
 * the connection and relays every frame to the others.
 */
export function createRealtime(appOptions: RealtimeOptions): RealtimeClient {
  // A closure, not a class: its state is locals, which the minifier names with
  // a letter or two, where each `this.#field` stays seven characters (the
  // bundle's size budget). The functions below are consts, declared before
  // the set-up after them runs any.
  const options = resolveOptions(appOptions);
  const platform = options.platform;
  // `clock`: every timer and duration of the client; `wallClock`: the time
  // of day, as the server compares it.
  const { clock, wallClock, random } = platform;
  /** Per event, its listeners; replaced, never mutated, so an emit walks a snapshot. */
  let listeners: { [E in keyof RealtimeEventMap]?: readonly ((...args: RealtimeEventMap[E]) => void)[] } = {};
  let updateQueued = false;
  /** What the live connection subscribes to, so an unchanged union sends no update. */
  let liveSubscription: string | undefined;
  let closed = false;
  /** Some subscriber wants events: the tab takes part (election, connection). */
  let active = false;
  let welcomes = 0;
  /** The oldest cursor a follower asked to be replayed from, until the replay came. */
  let replayFloor: Cursor | undefined;
  /**
   * Also set when this tab asks the leader's cursor (a hello, a `sync`): a
   * gap in a batch relayed before the answer is against a cursor that may be
   * of an epoch this tab missed, and asking from it would have the leader
   * reconnect from that seq. The answer asks for what is still missing.
   */
  let lastReplayAskAt = -Infinity;
  /** The cursor last handed to the transport, floor included. */
  let cursorSent: Cursor = {};
  /** The leader's last state, re-applied when this tab's own reason to be off clears. */
  let lastLeaderState: StateMessage | undefined;
  /** The trip of the leader's guard, as heard (`at`: this tab's clock then). */
  let leaderTrip: (NonNullable<StateMessage['rollback']> & { at: number }) | undefined;
  /** When this tab's own guard's trip ends (undefined: not tripped, or for the session). */
  let tripUntil: number | undefined;
  /** Set when this tab took over from a leader it knew: the takeover clock. */
  let takeoverStartedAt: number | undefined;
  let knewOtherLeader = false;
  /** Set once this session measures SLIs (see measure) and their code is here. */
  let measurement: Measurement | undefined;
  let measuring: Promise<void> | undefined;
  /**
   * While the collector loads: what it would have been told, in order
   * (bounded), so a batch dispatched meanwhile is still measured.
   */
  let sliBacklog: ((sli: SliCollector) => void)[] | undefined;
  /**
   * The flags this tab has from its own page and server, which the other tabs
   * may not know: the options, its own flags URL's documents, and a setFlags
   * made while it was out of the channel. A leader's answer to this tab's
   * hello is merged with these (a disable wins), not with the flags it last
   * heard from other tabs: those may be stale, e.g. a kill switch lifted
   * while this tab had no subscribers and so no channel.
   */
  let ownFlags = options.flags;
  /**
   * The flags whose value here came from a flags URL document: this tab's
   * last one, or another tab's (heard in a `flags` message's `fromUrl`). A
   * next document of this tab that leaves one out puts the page's own value
   * back, so a switch lifts also where the tab that read it is gone.
   */
  let urlFlagNames: Record<string, unknown> = {};
  /**
   * The flags whose value in ownFlags this tab's own last flags URL document
   * set (not another tab's, not a setFlags of this tab's since: one of another
   * tab's the leader names in `fromUrl` again only after a newer read).
   */
  let ownUrlNames: Record<string, unknown> = {};
  /**
   * Those of ownUrlNames read before this tab last left the channel (idle,
   * frozen, in the back/forward cache), until its poller's next change: the
   * document may have changed since, and the other tabs' polls posted that to
   * every tab but this one. A leader's answer that names one in `fromUrl` read
   * a newer document: its value replaces ours. The same object as
   * ownUrlNames until then, so a setFlags meanwhile takes a flag out of both.
   */
  let urlReadBefore: Record<string, unknown> = {};
  /**
   * The flags URL's document as the leader's poller knew it when it last
   * told this tab (a `flags` message's `document`), for this tab's poller
   * when it is loaded only later.
   */
  let urlDocument: Partial<ResolvedFlags> | undefined;
  /**
   * Server clock minus `clock` (ms), estimated at the last welcome, or
   * undefined until then (the offset is then measured as 0). Against the
   * monotonic clock, not the wall clock: a wall clock stepped later (NTP, the
   * user) would skew every latency by the step until the next welcome.
   */
  let serverMinusClockMs: number | undefined;
  /**
   * How far the true offset may be from that estimate, at most: half the
   * welcome's round trip; 0 for one a relayed welcome gave, undefined for a
   * leader's of an older version (none known). The collector corrects the
   * offset by no more (see SliCollector.setClockOffset); the followers are
   * told it with the offset, the two always together.
   */
  let clockOffsetErrorMs: number | undefined;
  // The measurement and reporter (2% of sessions by default), the flags
  // poller (only with `flagsUrl`) and the cursor store (only with
  // `persistCursor`) are loaded when needed, so most apps never download them.
  let poller: FlagsPoller | undefined;
  const sliTimer = new Timer(clock);
  /** Per service, the last seq handed to this tab's handlers: the invariant the guard watches. */
  const lastDelivered = new Map<string, number>();
  /** With `persistCursor`: where the shared cursor outlives the tabs, once loaded. */
  let cursorStore: CursorStore | undefined;
  /** Settles once the store is loaded, or could not load (then `cursorStore` stays unset). */
  let cursorStoreLoading: Promise<void> | undefined;
  /** False while the persisted cursor loads: connecting before would skip what it covers. */
  let cursorReady = true;
  /**
   * Set while no handler relies on the pipeline's cursors (a new tab, or one
   * back from idle: they come from storage or from before), so the cursor
   * the leader answers our hello with replaces them. Cleared once a leader
   * answered, once a handler got events (a frame relayed before the answer:
   * the leader's cursor may even be behind it, while it waits for a replay),
   * once a welcome is relayed, and on entering the back/forward cache, whose
   * handlers stay subscribed and must get what they missed there.
   */
  let adoptLeaderCursor = true;
  /**
   * Services a relayed batch started since this tab last heard a cursor
   * answer, and missed no reset since (see stopConnection, frame): their cursor
   * is of the leader's epoch, whose id the batch did not name, so the next
   * answer's is no reset this tab missed (moved back to a leader's cursor
   * that lags, as one that left the service has, it got the events again).
   */
  const startedByRelay = new Set<string>();
  /**
   * Per service, the id of the epoch this tab's cursor is of: the last
   * `reset` it applied, as its leader named it. A leader answers a hello
   * with its own, so a tab that heard nothing for a while can tell a stream
   * that went back (a reset it missed) from a leader that is merely behind.
   */
  const epochs: Record<string, string> = Object.create(null);
  /**
   * Set when this tab turned realtime off for a reason of its own: it hears
   * no frame until back on, then (a follower) asks the leader's cursor. Not
   * for a `disabled` it mirrors: the leader relayed nothing meanwhile.
   */
  let syncDue = false;
  /**
   * Set in the back/forward cache, out of the union: the other tabs' filters
   * may have left this tab's property out meanwhile, widened again since or
   * not, and the server sent nothing of it. Back, only a replay tells.
   */
  let away = false;
  /** How many times `fallback` fired, for the one repeated after createRealtime. */
  let fallbacks = 0;

  // The app's methods, and the coordinator's host (one object, as a class had it).
  const client: RealtimeClient & CoordinatorHost = {
    subscribe(service: string, handler: EventHandler): () => void {
      assertOpen();
      if (!isServiceName(service)) fail('service', 'a string of 1..100 [A-Za-z0-9_.:-]', service);
      // Development-only: a handler that is no function fails in the app's
      // code alone (the dispatcher reports its TypeError as a handler error).
      if (process.env.NODE_ENV !== 'production' && typeof handler !== 'function')
        fail('handler', 'a function', handler, TypeError);
      const off = dispatcher.subscribe(service, handler);
      servicesChanged();
      // Both idempotent, so a second call of the unsubscribe changes nothing.
      return () => {
        off();
        if (!closed) servicesChanged();
      };
    },

    setPropertyFilter(propertyId: string | null): void {
      assertOpen();
      // In both builds: other tabs drop needs with a bad id (this tab would
      // lose its events), and one that reached the URL of SSE or long-poll
      // would be two ids (a comma) or fail to build (a lone surrogate).
      if (propertyId !== null && !isPropertyId(propertyId)) {
        fail('propertyId', 'a non-empty string, no commas or lone surrogates, or null', propertyId);
      }
      if (propertyId === getState().propertyFilter) return;
      setState({ propertyFilter: propertyId });
      coordinator?.announceNeeds();
      queueUpdate();
    },

    trackMutation(mutationId: string, trackOptions: TrackOptions = {}): TrackedMutation {
      assertOpen();
      return mutations.track(
        mutationId,
        trackTimeout(mutationId, trackOptions, options.optimistic.timeoutMs),
      );
    },

    setFlags(flags: Partial<ResolvedFlags>): void {
      assertOpen();
      // Checked before anything changes: a refused call must not drop the
      // marks below (a document's lift would then not reach this tab).
      resolveFlags(DEFAULT_FLAGS, flags);
      // These are setFlags's now, not the flags URL's, before applyFlags: a
      // leader re-sends its flags to every tab from there, and marked as the
      // URL's, a follower's poller took the switch for its last document's,
      // and its next poll of the unchanged document, which does not hold it,
      // lifted it in every tab.
      for (const key in flags) {
        delete urlFlagNames[key];
        delete ownUrlNames[key];
      }
      applyFlags(flags);
      // Out of the channel (no subscribers) no other tab hears it: it is this tab's own.
      // In it, every tab hears it: the browser's view carries it from now on, and
      // an own value kept from before (a switch this tab threw while idle) must
      // not come back at the next hello. DEFAULT_FLAGS disable nothing: no
      // opinion of its own on those flags, so `disableWins` takes the leader's.
      ownFlags = resolveFlags(
        ownFlags,
        active ? pick(DEFAULT_FLAGS, Object.keys(flags) as FlagName[]) : flags,
      );
      // Every tab at once: the kill switch above all must not wait for a reload.
      postFlags({ ...flags });
    },

    getState: () => getState(),

    // An app listener that throws must not unwind the client mid-update.
    subscribeState: (listener) =>
      store.subscribe((state) => guarded(() => listener(state), reportListenerError)),

    on<E extends keyof RealtimeEventMap>(
      event: E,
      listener: (...args: RealtimeEventMap[E]) => void,
    ): () => void {
      // Development-only: a listener that is no function fails in the app's
      // code alone (each listener runs guarded, its TypeError reported).
      if (process.env.NODE_ENV !== 'production' && typeof listener !== 'function')
        fail('listener', 'a function', listener, TypeError);
      listeners[event] = [...(listeners[event] ?? []), listener] as never;
      // Someone wants the figures: measure them in this tab too.
      if (event === 'sli' && !closed) void measure();
      return () => client.off(event, listener);
    },

    off<E extends keyof RealtimeEventMap>(event: E, listener: (...args: RealtimeEventMap[E]) => void): void {
      listeners[event] = listeners[event]?.filter((l) => l !== listener) as never;
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      idleTimer.clear();
      loop.stop();
      breaker.dispose();
      guard.dispose();
      mutations.dispose();
      // The page lives on after close(), so the last report goes by fetch,
      // whose failure is seen and counted, not by a fire-and-forget beacon.
      stopParts();
      stopLifecycle();
      // Also when installDevtools showed it: a closed client is shown no more.
      shown.delete(client);
      setState({ status: 'closed' });
      listeners = {};
      // A handler that closed the client mid-frame must be the last one run:
      // the rest of that batch and the frame's other services go to nobody.
      dispatcher.clear();
      await Promise.all([coordinator?.stop(), cursorStore?.close()]);
    },

    // ── CoordinatorHost: what the other tabs tell this one ──────────────────
    // Only the coordinator calls these, so `coordinator` is set in them.

    needsChanged(): void {
      // A service the pipeline forgets loses its epoch too: it has no cursor to be of.
      pipeline.setServices(subscription().services, epochs);
      // Every peer re-announces its needs every 10 s: the same object while
      // the count holds, or each announcement is a new snapshot (a render of
      // every component reading the state) with nothing changed.
      setState({ leader: leaderWith({ peers: coordinator!.peerIds().length }) });
      // Sent only if, by then, this tab leads a live connection.
      queueUpdate();
    },

    leadershipChanged(isLeader: boolean, leaderTabId: string | undefined): void {
      const state = getState();
      if (isLeader && !state.isLeader) {
        // A floor from a former term, whose replay never came, is stale: the
        // tabs moved on under other leaders (one still missing events asks
        // again on seeing the hole), and reaching back to it would replay what
        // they have, or reset them all.
        replayFloor = undefined;
        // Churn is leadership moving between tabs: the first election of a tab
        // that never knew another leader is none (counted, every session with a
        // leader failed the < 1 an hour per tab target in its first hour).
        if (knewOtherLeader) {
          elections.add(1);
          takeoverStartedAt = clock.now();
        }
        // The leader that left was off for its guard: so is this tab, for
        // what was left of it, as the server is likely failing still. Else
        // closing the tripped tab lifted a trip "for the session" in the rest.
        const trip = leaderTrip;
        leaderTrip = undefined;
        if (trip) {
          const left = trip.ms - (clock.now() - trip.at);
          if (!trip.ms || left > 0) guard.trip(trip.reason, trip.detail, trip.ms && left);
        }
      }
      if (leaderTabId !== undefined && leaderTabId !== state.tabId) knewOtherLeader = true;
      // The connection shown is gone when a follower becomes leader (its own is
      // not open yet: what it showed was the old leader's) or follows a tab
      // other than the one it mirrors (that one crashed, or its lease went
      // stale): nobody holds it. In this very update, so no listener and no
      // post to the other tabs sees the new leader with the old connection.
      const gone =
        state.status !== 'disabled' && (isLeader ? !state.isLeader : lastLeaderState?.from !== leaderTabId);
      setState({
        isLeader,
        leaderTabId,
        leader: leaderWith({ elections: coordinator!.electionsWon, electionsPerHour: elections.total() }),
        ...(gone && { status: 'connecting', transport: undefined, connectionId: undefined }),
      });
      if (isLeader !== state.isLeader) emit('leader', isLeader);
      if (isLeader) {
        applyGate();
        if (loop.isRunning) postState();
      } else if (loop.isRunning) {
        // Another tab leads now (a lease taken over): one connection per browser.
        stopConnection({ status: 'connecting' });
      } else {
        mirrorLeader();
      }
    },

    frame({ frame: raw, epoch }: FrameMessage): void {
      const off = getState().status === 'disabled';
      // Parsed before the returns below: a tab that is not active has left
      // the channel and a leader hears no relay of its own, so only a tab
      // that is off parses a frame it then drops, to see a reset.
      const parsed = parseServerFrame(raw, options.maxFrameChars);
      // Off, it applies no frame. A reset dropped (or one it cannot read)
      // moves the leader's epoch, not this tab's: what a relay started is no
      // longer of the leader's (see stopConnection). A batch dropped leaves
      // a hole in the same epoch, which the sync once back on replays:
      // forgotten then, the answer read as a reset missed (a false resync).
      if (off && (!parsed.ok || parsed.frame.type === 'reset')) startedByRelay.clear();
      // Off here means off: no events after `fallback` (a re-enable replays the hole).
      if (isLeaderNow() || !active || (off && !adoptLeaderCursor)) return;
      // A leader relays only frames it read: one this tab cannot read came
      // from another deploy's tab or a rogue one, not from the server, and
      // counted as the server's (invalidFrames, the guard's errors) it
      // tripped this tab's rollback guard, and every tab's once it led.
      if (!parsed.ok) {
        bumpCounter('invalidTabMessages');
        return;
      }
      const frame = parsed.frame;
      guard.recordFrames(1, 0);
      if (frame.type === 'welcome') {
        // Relayed moments ago: no one-way delay to add.
        // Our handlers are owed every event after the cursor this connection
        // starts them at: no leader's cursor may replace ours now. (A hello
        // said while none led is answered by the tab that wins next, asked
        // again if that one opened after it; a next leader with no cursor of
        // its own, a tab that opened as this one closed, starts at the head,
        // past what they missed.)
        adoptLeaderCursor = false;
        welcomed(frame, 0);
        showCursor();
      } else {
        if (frame.type === 'batch') {
          const own = pipeline.getCursor();
          const adopt = adoptLeaderCursor;
          // A batch starts a service with no cursor there; also one past it while
          // no handler relies on our cursor yet (see adoptLeaderCursor), as in a
          // new tab: as a gap, its events were dropped, and the leader's answer
          // then skipped them. Own keys only: a service named `toString` finds
          // Object.prototype's function, was taken as having a cursor, and
          // the answer's epoch then read as a reset missed (a resync and the
          // events again).
          for (const service in frame.after)
            if (!Object.hasOwn(own, service) || (adopt && own[service]! < frame.after[service]!)) {
              pipeline.forget(service);
              startedByRelay.add(service);
            }
          // Off (its own switch, before the leader heard of it), it drops them,
          // yet its handlers are owed them: the hole replayed once back on must
          // start here, not at the leader's answer to our hello, past them.
          if (adopt && off && frame.events.some((e) => dispatcher.hasHandlers(e.service))) {
            pipeline.seed(frame.after);
            adoptLeaderCursor = false;
          }
        }
        // A batch or a reset; any other frame changes nothing there.
        off || applyServerFrame(frame, epoch);
      }
    },

    state(message: StateMessage): void {
      const state = getState();
      if (isLeaderNow() || state.disabledReason === 'forbidden') return;
      if (message.status === 'disabled' && message.disabledReason === 'forbidden') {
        // The leader's `lastError` is `forbidden: ${message}` (becomeForbidden):
        // the error gets the message only, as the leader's did.
        becomeForbidden(
          new RealtimeError('forbidden', message.lastError?.replace(/^forbidden: /, '') || 'access revoked'),
        );
        return;
      }
      // A leader going idle or closing is leaving; the next one will speak.
      const leaving = message.status === 'closed' || message.status === 'idle';
      // One leaving says nothing of its trip: it stands. Not again for the
      // message mirrorLeader re-applies: its `ms` is of then.
      if (message !== lastLeaderState && !leaving)
        leaderTrip = message.rollback && { ...message.rollback, at: clock.now() };
      lastLeaderState = message;
      // The leader's estimate (see postState): a tab that joined after the
      // welcome has no other, and one a relayed welcome gave is no better.
      if (message.serverClockOffsetMs !== undefined)
        setClockOffset(message.serverClockOffsetMs, message.serverClockOffsetErrorMs);
      // A reason of this tab's own (flags, its guard) wins over the leader's view.
      if (localDisabledReason() !== undefined) return;
      const status = leaving ? 'connecting' : message.status;
      const disabledByLeader = status === 'disabled';
      if (disabledByLeader && state.status !== 'disabled') {
        fallback(message.disabledReason ?? 'disabled');
      }
      setState({
        // The leader's connection: what it has none of is gone, except
        // lastSuccessAt and lastError, which stay as they are.
        transport: undefined,
        connectionId: undefined,
        ...pick(message, MIRRORED),
        status,
        disabledReason: disabledByLeader ? message.disabledReason : undefined,
        leaderTabId: message.from,
      });
    },

    flags({ flags, to, fromUrl, document }: FlagsMessage): void {
      if (closed) return;
      const direct = !!to;
      // Another tab's flags URL set these: as if this tab's own last document
      // had (see urlFlagNames), whose next poll then lifts what its document no
      // longer holds. A change someone made now, not marked so, is no longer
      // the URL's; a leader's view leaves this tab's own sources as they are.
      for (const key in flags) {
        if (fromUrl?.includes(key as keyof ResolvedFlags)) {
          // Our own document's value, read before we left: the leader's is newer (see urlReadBefore).
          if (direct && key in urlReadBefore) ownFlags = { ...ownFlags, [key]: flags[key as FlagName] };
          urlFlagNames[key] = 1;
        } else if (!direct) delete urlFlagNames[key];
      }
      // What the leader's poller knows is this tab's last document until its
      // own first, which then holds no news where it is the same.
      urlDocument = document ?? urlDocument;
      poller?.heard(flags, direct, fromUrl, urlDocument);
      // A leader's answer to our hello is its view, which may be older than our
      // own config: there a disable wins. It is newer than what this tab heard
      // from other tabs before (see ownFlags), so that is not merged in. A
      // setFlags from any tab is a change someone made now, applied as it is.
      // A change another tab made now supersedes this tab's own value of those flags.
      if (!direct) ownFlags = resolveFlags(ownFlags, pick(DEFAULT_FLAGS, Object.keys(flags) as FlagName[]));
      applyFlags(direct ? disableWins(ownFlags, flags) : flags);
    },

    cursor({ cursor, to, epochs: leaderEpochs = {} }: CursorMessage): void {
      // Set where this tab's cursor moved here.
      let moved = false;
      if (to) {
        const own = pipeline.getCursor();
        const adopt = adoptLeaderCursor;
        adoptLeaderCursor = false;
        const missed: string[] = [];
        let behind = false;
        // The leader's epochs too: a reset that gave a service no cursor left
        // it none in the leader's cursor, and its epoch must still be told.
        for (const service in { ...cursor, ...leaderEpochs }) {
          const mine = own[service];
          const theirs = cursor[service];
          // Own keys only: a service may be named `toString`, whose inherited
          // function stored in `epochs` would make the next answer uncloneable.
          const epoch = Object.hasOwn(leaderEpochs, service) ? leaderEpochs[service] : undefined;
          // The leader applied a reset this tab did not: the stream went back
          // while it heard nothing, and its cursor is of the old epoch,
          // whether ahead of the leader's, behind it or even equal.
          const missedReset =
            epoch !== undefined && epoch !== epochs[service] && !startedByRelay.has(service);
          if (epoch !== undefined) epochs[service] = epoch;
          if (mine === undefined || (!missedReset && (mine === theirs || theirs === undefined))) continue;
          if (adopt) {
            // Just joined, new or back from idle: no handler relies on the cursor
            // this tab has (persisted, or kept from before), the browser's is the
            // truth. Older, keeping it would make the leader replay for it; newer,
            // the stream went back (a `reset` to a new epoch this tab did not
            // hear) and keeping it would drop the new epoch's events as
            // duplicates. Not so after the back/forward cache: its handlers are
            // still there, and skipping ahead would lose what they missed.
            pipeline.forget(service);
            lastDelivered.delete(service);
            moved = true;
          } else if (missedReset) {
            missed.push(service);
            moved = true;
          } else if (mine < theirs!) {
            behind = true;
          }
        }
        startedByRelay.clear();
        // What the reset told the other tabs, this one hears now: the new
        // epoch's cursor (none where the reset gave none), and a resync (what
        // came before it, the re-fetch covers).
        if (missed.length > 0)
          pipeline.applyFrame({ type: 'reset', services: missed, cursor, reason: 'missed_reset' });
        // Back from the back/forward cache, behind the browser: have the hole
        // replayed now, not when (if ever) the next batch shows it (once: the
        // asks are throttled). Only now: from a missed epoch's seq, the server
        // would replay the new epoch or reset every tab again. Not held back by
        // the asks held while this answer was due (see lastReplayAskAt).
        // Level with it too, back from the back/forward cache (see away): the
        // server replays what it filtered out only from a cursor. A reset it
        // missed is no reason to ask none: the resync covers the services
        // reset alone (left out of the ask), not the others' filtered-out events.
        lastReplayAskAt = -Infinity;
        if (behind || away) askLeaderForReplay(missed);
        away = false;
      }
      pipeline.seed(cursor);
      // Moved, maybe back, as by a reset: overwrite the stored cursor, and with
      // it a save of the old one still pending (from a frame relayed before
      // this answer), which would max-merge the old epoch's seq back in.
      if (moved) cursorStore?.replace(pipeline.getCursor());
      showCursor();
    },

    replay({ cursor }: ReplayMessage): void {
      replayFloor = lowerTo({ ...replayFloor }, cursor);
      loop.requestReplay();
    },

    peerJoined(tabId: string): void {
      client.sync({ from: tabId });
      postFlags(getState().flags, tabId);
      postState();
    },

    sync({ from }): void {
      coordinator?.post({
        type: 'cursor',
        cursor: pipeline.getCursor(),
        epochs,
        to: from,
      });
    },

    invalidMessage: () => bumpCounter('invalidTabMessages'),
  };

  // ── internals ─────────────────────────────────────────────────────────

  // Each app listener runs on its own: one that throws neither stops the
  // others nor unwinds the client in the middle of a state change; its error
  // goes where EventTarget would send it (reportError).
  const emit = <E extends keyof RealtimeEventMap>(event: E, ...args: RealtimeEventMap[E]): void => {
    // A statechange listener that changed the state (close() above all)
    // had every listener told of the newer one: the older must not follow.
    for (const listener of listeners[event] ?? [])
      if (event !== 'statechange' || args[0] === getState())
        guarded(() => listener(...args), reportListenerError);
  };

  const fallback = (reason: string): void => {
    fallbacks++;
    emit('fallback', { reason });
  };

  /** Shows the pipeline's cursor in the state, after it moved. */
  const showCursor = (): void => {
    setState({ cursor: pipeline.getCursor() });
  };

  /**
   * A frame of this tab's own connection that was not a valid frame of the
   * protocol (a relayed one a follower cannot read is a tab message: see frame()).
   */
  const invalidFrame = (): void => {
    bumpCounter('invalidFrames');
    guard.recordFrames(0, 1);
  };

  /** Without a coordinator (`leader.strategy: 'none'`) the tab is its own leader. */
  const isLeaderNow = (): boolean => {
    return coordinator?.isLeader ?? true;
  };

  /**
   * Applies a frame from the server (direct or relayed); `epoch`: a reset's
   * id ('' from a leader of an older version, which names none).
   */
  const applyServerFrame = (frame: ServerFrame, epoch = ''): void => {
    const floor = replayFloor;
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
      if (Object.keys(floor).length === 0) replayFloor = undefined;
    }
    // Named before the pipeline applies it: the `resync` listeners get the
    // frame's own list, and one that consumed it in place (`services.pop()`)
    // left the epochs unnamed, so a tab back from the back/forward cache
    // missed the reset and dropped the new epoch's first events.
    if (frame.type === 'reset') for (const service of frame.services) epochs[service] = epoch;
    pipeline.applyFrame(frame);
    if (frame.type === 'batch' || frame.type === 'reset') {
      const cursor = pipeline.getCursor();
      setState({ cursor });
      // After a reset a service may move backwards (a new epoch): overwrite.
      if (frame.type === 'reset') cursorStore?.replace(cursor);
      else cursorStore?.save(cursor);
    }
  };

  /**
   * Applies a welcome (direct or relayed) sent `oneWayMs` ago: half the
   * connect's round trip, which is also how far the offset may be off (see
   * clockOffsetErrorMs). A relayed one: 0, for an offset that is only a
   * lower bound (the welcome was sent before it got here, how long before
   * this tab cannot tell), which nothing then corrects.
   */
  const welcomed = (frame: WelcomeFrame, oneWayMs: number): void => {
    setClockOffset(frame.serverTime + oneWayMs - wallClock(), oneWayMs);
    pipeline.applyFrame(frame);
    // Stored from the start: on a quiet stream no batch ever writes, and a
    // scope without a record resumes from the head, past what it missed.
    cursorStore?.save(pipeline.getCursor());
  };

  /** `skip`: services a resync covers (a reset this tab missed), left out of the ask. */
  const askLeaderForReplay = (skip: string[] = []): void => {
    const now = clock.now();
    if (now - lastReplayAskAt < REPLAY_ASK_INTERVAL_MS) return;
    const cursor = pipeline.getCursor(true);
    for (const service of skip) delete cursor[service];
    // Nothing left to replay: the ask would only have the leader reconnect.
    if (!Object.keys(cursor).length) return;
    lastReplayAskAt = now;
    coordinator?.post({ type: 'replay', cursor });
  };

  const becomeForbidden = (error: RealtimeError): void => {
    stopConnection({
      status: 'disabled',
      disabledReason: 'forbidden',
      lastError: `${error.code}: ${error.message}`,
    });
    emit('forbidden', error);
    fallback('forbidden');
  };

  /**
   * A follower shows what its leader last posted, if that tab still leads: a
   * crashed one's connection is nobody's (see leadershipChanged).
   */
  const mirrorLeader = (): void => {
    const last = lastLeaderState;
    if (last && last.from === getState().leaderTabId) client.state(last);
  };

  /** Tells the other tabs this leader's connection state (the state of now). */
  const postState = (): void => {
    const state = getState();
    const { reason, detail } = state.rollback;
    coordinator?.post({
      type: 'state',
      ...pick(state, MIRRORED),
      // Followers mirror `disabled`; this is what lets one that takes over keep it.
      // Only a trip has a reason.
      rollback: reason
        ? {
            reason: reason as RollbackReason,
            detail: detail!,
            ms: tripUntil ? Math.max(1, tripUntil - clock.now()) : 0,
          }
        : undefined,
      // A tab that opens after the welcome never sees it relayed; the offset
      // is the machine's wall clock against the server's, the same in every
      // tab. Undefined until estimated: the JSON of the message leaves it out.
      ...clockEstimate(),
    });
  };

  /**
   * Tells the other tabs (or the tab `to`) these flags, as their message may
   * carry them: `disabledServices` takes any strings (a name that is no
   * service disables nothing), the message only service names, and one
   * other entry made the whole message invalid in every other tab, with the
   * kill switch it carried. `fromUrl`: say which came from a flags URL.
   */
  const postFlags = (flags: Partial<ResolvedFlags>, to?: string, fromUrl = !!to): void => {
    const services = flags.disabledServices;
    coordinator?.post({
      type: 'flags',
      flags: services ? { ...flags, disabledServices: services.filter(isServiceName) } : flags,
      // Not with a setFlags: what it does not name, it did not leave out.
      fromUrl: fromUrl ? (Object.keys(urlFlagNames) as FlagsMessage['fromUrl']) : undefined,
      // To one tab, the leader's answer (or its view since): the document as
      // this tab's poller knows it, so the first poll of a tab that opens
      // does not take the unchanged one for a change (see FlagsPoller.heard).
      document: to ? poller?.lastGood : undefined,
      to,
    });
  };

  /** Merges `flags` onto the state's (none: applies those again) and acts on the result. */
  const applyFlags = (flags?: Partial<ResolvedFlags>): void => {
    const previous = getState().flags;
    // Unchanged, the same object: a follower hears each change twice (the
    // change, and the leader's re-send below), and a new object is a new
    // snapshot, a render of every component reading the state.
    const next = same(previous, resolveFlags(previous, flags));
    setState({ flags: next });
    applyGate();
    // A tab that joined was told the leader's flags, a disable winning (see
    // `flags`); it must hear when they change too, so that a switch it took
    // from the leader lifts there when it lifts in the leader. After
    // the gate, so the state posted for the change goes first: a tab lifted
    // by these must not mirror the leader's `disabled` of before.
    // The state's, not `next`: the gate ran app listeners, which may have set flags again.
    const now = getState().flags;
    if (coordinator?.isLeader && !closed && now !== previous) {
      for (const to of coordinator.peerIds()) postFlags(now, to);
    }
  };

  const deliver = (service: string, events: RealtimeEvent[]): void => {
    if (!dispatcher.hasHandlers(service)) return;
    // Handlers now rely on this tab's cursor: a leader's answer to our hello
    // that comes later must not move it (see `cursor`).
    adoptLeaderCursor = false;
    // The promise of the library, checked where it is kept: in order, once.
    let last = lastDelivered.get(service) ?? 0;
    for (const { seq } of events) {
      if (seq <= last) {
        guard.trip('invariant_violation', `${service}: seq ${seq} delivered after ${last}`);
        return;
      }
      last = seq;
    }
    lastDelivered.set(service, last);
    const now = wallClock();
    // When this dispatch happened, as the collector takes it: one still
    // loading is told it later, and reads it with the offset it starts with,
    // as every other of its backlog (one estimate for all: see
    // SliCollector.delivered). Only a tab that measures (or whose collector
    // is loading) pays for this on every batch: most tabs are not sampled.
    if (measurement || sliBacklog) {
      const at = clock.now();
      toSli((sli) => sli.delivered(service, events, at));
    }
    // Before the handlers: one that closes the client (which cancels what is
    // pending) or reads a mutation's status must find its echo already seen.
    mutations.observe(events);
    const { delivered, filtered } = dispatcher.dispatch(service, events);
    if (filtered > 0) addSuppressed(service, filtered);
    const state = getState();
    setState({
      byServiceDelivered: plus(state.byServiceDelivered, service, delivered.length),
      byServiceLastEventAt: { ...state.byServiceLastEventAt, [service]: now },
    });
    // Once the counters moved, so a listener reading getState() sees it counted.
    if (delivered.length > 0) emit('events', service, delivered);
  };

  /** Every SLI_TICK_MS while active: the guard's time rules and, when measuring, SLOs, alerts and the `sli` event. */
  const sliTick = (): void => {
    // Armed only while active: going idle and close() clear it (stopParts).
    sliTimer.set(() => {
      // Evaluates the guard too; and tells it the tab went offline meanwhile.
      circuitToGuard();
      setState({
        ...measurement?.sliFigures(getState()),
        // The same object when unchanged: a tab that does not measure then has
        // nothing new every tick, and its listeners hear nothing.
        leader: leaderWith({ electionsPerHour: elections.total() }),
      });
      if (measurement) emit('sli', measurement.report());
      // A rollback cooldown may have ended.
      if (getState().disabledReason === 'auto_rollback') applyGate();
      // The guard, the state update and `sli` ran app listeners, which may
      // have closed the client (close() cleared this timer, already fired).
      if (!closed) sliTick();
    }, SLI_TICK_MS);
  };

  /** The state's `leader` with `patch`: the same object while that changes nothing. */
  const leaderWith = (patch: Partial<LeaderInfo>): LeaderInfo => {
    const { leader } = getState();
    return same(leader, { ...leader, ...patch });
  };

  const setClockOffset = (offsetMs: number, errorMs: number | undefined): void => {
    serverMinusClockMs = offsetMs + wallClock() - clock.now();
    clockOffsetErrorMs = errorMs;
    measurement?.sli.setClockOffset(offsetMs, errorMs);
  };

  /**
   * The estimate of now, as the state message carries it: the server clock
   * minus the wall clock of now (ms), undefined until estimated, and how far
   * it may be off (see clockOffsetErrorMs).
   */
  const clockEstimate = (): ClockEstimate => ({
    serverClockOffsetMs:
      serverMinusClockMs === undefined ? undefined : serverMinusClockMs + clock.now() - wallClock(),
    serverClockOffsetErrorMs: clockOffsetErrorMs,
  });

  /**
   * Starts measuring SLIs in this tab: loads the collector (sketches, SLOs,
   * alerts) on first call. Sampled sessions, `telemetry.measure: 'always'`
   * and the first `sli` listener call it; the rest never download it.
   * Measuring starts when the code is here, moments after the call.
   */
  const measure = (): Promise<void> => {
    if (!measuring) {
      // Only while this load is under way: a call after it (loaded, or failed
      // for good) must not start a backlog that nothing would ever empty.
      sliBacklog = [];
      measuring = load(
        import('./observability/sli-measurement'),
        ({ startMeasuring }) => {
          measurement = startMeasuring({
            clientOptions: options,
            electionCounter: elections,
            slidingWindow: SlidingCounter,
            // Made here: measure loads the collector once per client.
            newSessionId: randomId(),
            clockEstimate,
            // Not state().circuit: a follower's mirrors the leader's breaker.
            circuitOpenNow: circuitDriven(),
            stateStore: store,
            pageTargets: page,
            telemetryUrl: url,
            clientActive: () => active,
            // Made above as this load started, dropped below once this ran (or failed).
            toldMeanwhile: sliBacklog!,
          });
          // Once the measurement is the client's: a state listener that runs
          // here and changes the circuit (a kill switch) must reach it, and
          // the circuit is told to it directly, not through the backlog.
          setState({ sli: { ...getState().sli, measured: true } });
        },
        // Loaded or failed: either way nothing is kept for it any more.
      ).then(() => {
        sliBacklog = undefined;
      });
    }
    return measuring;
  };

  /** Tells the collector, or keeps it for the collector that is loading (not measuring: drops it). */
  const toSli = (tell: (sli: SliCollector) => void): void => {
    if (measurement) tell(measurement.sli);
    else if (sliBacklog && sliBacklog.length < SLI_BACKLOG_MAX) sliBacklog.push(tell);
  };

  /** Why this tab itself keeps realtime off (flags, or its own rollback guard). */
  const localDisabledReason = (): string | undefined => {
    return (
      gateReason(getState().flags, options.scope.orgId) ??
      (guard.verdict().state === 'tripped' ? 'auto_rollback' : undefined)
    );
  };

  const servicesChanged = (): void => {
    const services = dispatcher.services().sort();
    // Service names hold no comma: equal joined, equal lists.
    if (String(services) === String(getState().services)) return;
    // Per-service figures of services no longer subscribed: only the latest
    // LEFT_FIGURES_MAX stay, for the reports. All kept, those of every service
    // a long-lived page ever had (one per record page visited, say) stayed for
    // good, and each batch copies these objects: every event cost more with
    // each service visited.
    const state = getState();
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
    for (const service of lastDelivered.keys()) services.includes(service) || lastDelivered.delete(service);
    setState(next);
    // A listener closed the client: no election to join, no idle timer to arm.
    if (closed) return;
    coordinator?.announceNeeds();
    // A service the pipeline forgets loses its epoch too: it has no cursor to be of.
    pipeline.setServices(subscription().services, epochs);
    if (services.length > 0) {
      idleTimer.clear();
      if (!active) activate();
      else queueUpdate();
    } else if (active) {
      // A grace delay, so React StrictMode's unmount+mount or a route change
      // that swaps one subscriber for another causes no reconnect. (None is
      // pending: the services were not empty, and that cleared it.)
      idleTimer.set(() => {
        // (close() clears this timer.)
        if (getState().services.length > 0) return;
        // The last subscriber left: let go of everything.
        active = false;
        adoptLeaderCursor = true;
        // What was measured since the last report would wait for a next
        // subscriber that may never come (the tab is closed while idle, and a
        // stopped reporter hears no pagehide): send it now, as close() does, but
        // throttled as a lifecycle flush is: a page may toggle realtime often.
        stopParts(true);
        leave('idle');
        // A `disabled` mirrored from the leader (its guard's trip) is about a
        // connection this tab no longer follows, and leave kept it: the gate
        // lifts it to `idle`, and keeps a reason of this tab's own.
        applyGate();
      }, options.idleGraceMs);
    }
  };

  /**
   * Creates a lazily loaded part once its module is here, unless the client
   * closed meanwhile. A module that cannot load (offline, a chunk gone after
   * a deploy) leaves the part out, as if the option were not set; the reason
   * is in `counters.lazyLoadFailures` and the `error` event.
   */
  const load = <M>(loading: Promise<M>, create: (module: M) => void): Promise<void> => {
    return loading
      .then((module) => {
        if (!closed) create(module);
      })
      .catch((error: unknown) => {
        // A module that did not load, or a part that could not be created from it.
        if (closed) return;
        bumpCounter('lazyLoadFailures');
        emit('error', new RealtimeError('load_failed', 'could not load a part of tabwire', { cause: error }));
      });
  };

  /** Stops the SLI tick, the reporter (sending what it has) and the flags poller. */
  const stopParts = (throttled?: boolean): void => {
    sliTimer.clear();
    measurement?.stop(throttled);
    poller?.stop();
  };

  /** The first subscriber came: join the election (or, alone, connect). */
  const activate = (): void => {
    active = true;
    // The first transport's code (and the token provider's) downloads while
    // the tabs elect a leader.
    loop.preload();
    sliTick();
    measurement?.start();
    poller?.start();
    if (options.persistCursor) {
      cursorReady = false;
      // The cursor store, loaded and opened on first use (left unset if it could not load).
      cursorStoreLoading ??= load(import('./tabs/cursor-store'), ({ CursorStore }) => {
        cursorStore = new CursorStore({
          // The platform's clock, random, indexedDB and storage: an injected
          // storage (Node, a fake browser) holds the unload entries, which in
          // the global would be every fake browser's of the process.
          ...(platform as Omit<typeof platform, 'indexedDB'> & { indexedDB?: IDBFactory }),
          name: channelName(options.appKey, options.scope),
          read: readCursor,
          now: wallClock,
        });
      });
      void cursorStoreLoading
        .then(() => cursorStore?.load())
        // A store that cannot be read is no persisted cursor: connect without it.
        .catch(noop)
        .then((cursor) => {
          try {
            if (cursor) {
              pipeline.seed(cursor);
              showCursor();
            }
          } finally {
            cursorReady = true;
            applyGate();
          }
        });
    }
    rejoin();
  };

  /** Joins the election (or, alone, connects): once active, and back from the back/forward cache. */
  const rejoin = (): void => {
    lastReplayAskAt = clock.now();
    coordinator?.start();
    applyGate();
  };

  /** Drops the connection and this tab's part in the election; shows `status` unless disabled. */
  const leave = (status: 'idle' | 'connecting'): void => {
    urlReadBefore = ownUrlNames;
    // First, so the election's stop does not find a connection to hand over.
    loop.stop();
    void cursorStore?.flush();
    void coordinator?.stop();
    stopConnection({
      status: getState().status === 'disabled' ? 'disabled' : status,
      ...(coordinator && { isLeader: false, leaderTabId: undefined }),
    });
  };

  /** Stops the connection (if running) and shows it gone, with `next` for the rest of the state. */
  const stopConnection = (next: Partial<RealtimeState>): void => {
    loop.stop();
    // Idle, away in the back/forward cache or led by another now, a tab
    // hears no reset. Turned off (a reason given), it still hears every
    // frame, and `frame` forgets these once it drops a reset: forgotten here,
    // the answer to a hello sent before, or the sync's once back on, read as
    // a reset it missed, moved it back and replayed what its handlers had.
    next.disabledReason || startedByRelay.clear();
    setState({ transport: undefined, connectionId: undefined, ...next });
    // Last: the guard may answer with a new verdict, which runs applyGate.
    circuitToGuard();
  };

  /**
   * Tells the rollback guard whether the circuit is open while this tab tries
   * to connect. A breaker that a stopped loop left open moves to half-open and
   * waits there for a probe that never comes (realtime switched off, the tab
   * idle or now a follower): that time says nothing about the network, and
   * counting it tripped `circuit_open` for the rest of the session, e.g. in
   * every tab whose circuit was open when a kill switch was thrown, once it
   * was lifted. The open time counts again from the loop's next start.
   */
  const circuitToGuard = (): void => {
    const open = circuitDriven();
    // The circuit SLIs (circuitOpenPercent, the circuitOpen alert) are the
    // connection's, so they follow the same rule: a follower's or an idle
    // tab's stale breaker must not report open time the leader reports too.
    // Told before the guard: a guard that trips stops the loop and calls this
    // again (closed), which a late `open` here would undo, restarting the
    // open time the circuitOpen alert reads at the trip.
    measurement?.sli.circuit(open);
    guard.circuitOpen(open);
  };

  /**
   * The circuit is open (half-open counts) while this tab's loop tries to
   * connect. Not offline: the loop waits for `online` then, and that time
   * says nothing of the backend (counted, a laptop offline for 5 minutes
   * tripped `circuit_open` for the session); the SLI tick looks again.
   */
  const circuitDriven = (): boolean => {
    return loop.isRunning && isOnline() && breaker.snapshot().state !== 'closed';
  };

  const isOnline = (): boolean => (platform.navigator ?? globalThis.navigator)?.onLine !== false;

  /**
   * Several subscribe calls in one tick become one in-place update, sent if
   * this tab then leads a live connection (after close() there is none).
   */
  const queueUpdate = (): void => {
    if (updateQueued) return;
    updateQueued = true;
    queueMicrotask(() => {
      updateQueued = false;
      // Not connected yet: the welcome checks again (see the welcome sink).
      if (!isLeaderNow() || !loop.isConnected) return;
      // Tabs re-announce their needs every 10 s; an update for nothing would
      // cost a POST and, over long-poll, cut the waiting poll.
      if (JSON.stringify(subscription()) === liveSubscription) return;
      loop.update();
    });
  };

  /** Starts or stops the connection as flags, subscribers and the election say. */
  const applyGate = (): void => {
    if (closed || getState().disabledReason === 'forbidden') return;
    // First: a rollback cooldown it sees ended applies the gate already (the
    // guard's report), and what follows must read the state that left.
    const reason = localDisabledReason();
    const state = getState();
    if (reason !== undefined) {
      // Realtime off on purpose is no takeover's delay: a kill switch held
      // for half an hour must not become a 30-minute takeover sample.
      takeoverStartedAt = undefined;
      syncDue = true;
      const wasRunning = state.status !== 'disabled' || state.disabledReason !== reason;
      stopConnection({ status: 'disabled', disabledReason: reason });
      if (wasRunning) fallback(reason);
      return;
    }
    if (state.status === 'disabled') {
      // A follower whose leader is off stays off, with the leader's reason:
      // through `connecting`, it fired `fallback` again at each SLI tick (which
      // re-applies the gate while `auto_rollback` shows) and each flags message.
      // (A leader's own id is never the `from` of a state it heard.)
      if (lastLeaderState?.status !== 'disabled' || lastLeaderState.from !== state.leaderTabId)
        setState({ status: active ? 'connecting' : 'idle', disabledReason: undefined });
      else mirrorLeader();
      // A follower heard no frame while off: the leader's cursor tells it what
      // it missed (a hole, a reset), as to a tab back from the back/forward
      // cache. (A leader's own connection resumes from its cursor.) Once: a
      // `disabled` mirrored from the leader is lifted here at every SLI tick.
      if (syncDue && active && !isLeaderNow()) {
        syncDue = false;
        // Its handlers were here while it was off: what it missed is theirs,
        // to be replayed, even if no leader answered its hello yet.
        adoptLeaderCursor = false;
        lastReplayAskAt = clock.now();
        coordinator?.post({ type: 'sync', to: state.leaderTabId });
      }
    }
    if (!active) return;
    if (isLeaderNow()) {
      if (!loop.isRunning && cursorReady) {
        loop.start();
        circuitToGuard();
      }
    } else if (getState().status === 'connecting') {
      // Back on after a reason of our own: show what the leader last said.
      mirrorLeader();
    } else if (getState().status === 'idle') {
      // A follower shows the leader's status once it hears it.
      setState({ status: 'connecting' });
    }
  };

  /** What the connection subscribes to: this tab's needs, or every tab's. */
  const subscription = (): { services: string[]; propertyIds: string[] | null } => {
    if (coordinator) return coordinator.union();
    const { services, propertyFilter } = getState();
    return { services, propertyIds: propertyFilter === null ? null : [propertyFilter] };
  };

  /** The breaker as the state shows it; the same object while nothing changed. */
  const circuitState = (): RealtimeState['circuit'] => {
    // Already the state's shape: a fresh object with no undefined field. A
    // string and numbers, in the breaker's key order (also a leader's, as the
    // channel reads it): equal JSON, equal circuit.
    return same(getState().circuit, breaker.snapshot());
  };

  const bumpCounter = (name: keyof RealtimeCounters): void => {
    setState({ counters: plus(getState().counters, name) });
  };

  const addSuppressed = (service: string, count: number): void => {
    setState({ byServiceSuppressed: plus(getState().byServiceSuppressed, service, count) });
  };

  const assertOpen = (): void => {
    if (closed) throw new TypeError('this realtime client is closed');
  };

  // ── set-up ────────────────────────────────────────────────────────────

  /** The grace delay after the last subscriber left (see servicesChanged). */
  const idleTimer = new Timer(clock);
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
  // Absent with `leader.strategy: 'none'`: the tab then connects on its own.
  const coordinator =
    strategy === 'none'
      ? undefined
      : // The platform's clock, locks, storage, BroadcastChannel and window;
        // the options' appKey and scope, and leader.takeoverMs.
        new TabCoordinator({
          ...(platform as Omit<ResolvedOptions['platform'], 'locks' | 'BroadcastChannel'> & {
            locks?: LockManagerLike;
            BroadcastChannel?: BroadcastChannelConstructor | null;
          }),
          ...options,
          ...options.leader,
          tabId,
          strategy,
          host: client,
          maxMessageChars: options.maxFrameChars + 4096,
        });

  const sampled = sampleSession(options.telemetry.sampleRate, random, {
    // Where reading it does not throw (privacy modes).
    storage: guarded(() => globalThis.sessionStorage),
  });
  const store = createStore(
    initialState({
      tabId,
      isLeader: !coordinator,
      electionStrategy: strategy,
      flags: options.flags,
      sampled,
    }),
  );
  // The state of now (the store's snapshot), and its update.
  const { getState, setState } = store;
  /** Kept from the start, as the state shows it in every session. */
  const elections = new SlidingCounter({ windowMs: 3_600_000, clock });
  const guard = new RollbackGuard({
    clock,
    thresholds: options.rollback,
    onChange: (verdict) => {
      // The verdict as the state shows it: all but the guard's own cooldown end
      // (a verdict holds no undefined field).
      const { until, ...rollback } = verdict;
      tripUntil = until;
      setState({ rollback });
      // A `degraded` verdict always has its error rate.
      if (verdict.state === 'degraded') emit('degraded', { errorRate: verdict.errorRate! });
      applyGate();
    },
  });
  const mutations = new PendingMutations(clock, options.optimistic.maxPending, (outcome) =>
    toSli((sli) => sli.mutationSettled(outcome)),
  );
  // The page's, as every part that watches the page sees it. Read off
  // `globalThis`, which never throws. The window is the global scope: in a
  // worker, which has no window, that is where `online` fires (missed, a
  // worker once offline never connected again); Node's has no listeners.
  const page = {
    window: platform.window ?? globalThis,
    document: platform.document ?? globalThis.document,
  };
  // Resolved now, so a bad URL throws from createRealtime, not later; and in
  // every session, not only in those the draw sampled. `url` too, for
  // credentials (options.ts checked its form): only checked, its result
  // unused, so development-only.
  if (process.env.NODE_ENV !== 'production') resolveUrl('url', options.url, options.url);
  const url = resolveUrl('telemetry.url', options.telemetry.url, options.url);
  if (sampled) {
    // Both downloads at once; the reporter is made once the collector is here.
    // (Measuring could not load: there is nothing to report.)
    void load(Promise.all([measure(), import('./observability/sli-reporter')]), ([, reporterModule]) =>
      measurement?.reportWith(reporterModule),
    );
  } else if (options.telemetry.measure === 'always') {
    void measure();
  }
  const { flagsUrl } = options;
  if (flagsUrl) {
    const url = resolveUrl('flagsUrl.url', flagsUrl.url, options.url);
    load(import('./flags/flags-poller'), ({ FlagsPoller }) => {
      // The platform's fetch and clocks.
      poller = new FlagsPoller({
        ...platform,
        // Its intervalMs.
        ...flagsUrl,
        url,
        known: urlDocument,
        onFlags: (document) => {
          if (closed) return;
          // A flag the last document set and this one leaves out is the
          // page's own again: deleting `"emergencyDisable": true` from the
          // document lifts the switch, as setting it to false does.
          const flags = { ...pick(options.flags, Object.keys(urlFlagNames) as FlagName[]), ...document };
          urlFlagNames = { ...document };
          ownUrlNames = { ...document };
          urlReadBefore = {};
          ownFlags = resolveFlags(ownFlags, flags);
          applyFlags(flags);
          // Every tab at once, as a setFlags: one without a flags URL (or
          // whose poll comes later) takes the switch now, and the lift too,
          // also once this tab is gone.
          postFlags(flags, undefined, true);
        },
        // Beside its warning: a broken flags URL shows in the state and the SLI reports.
        onIgnored: () => bumpCounter('flagsUrlFailures'),
      });
      if (active) poller.start();
    });
  }
  store.subscribe((state, previous) => {
    // The leader mirrors its connection state, so every tab's getState()
    // tells the truth: once on becoming leader, then at each change.
    if (
      coordinator &&
      state.isLeader &&
      !closed &&
      (!previous.isLeader || MIRRORED.some((key) => state[key] !== previous[key]))
    ) {
      postState();
    }
    emit('statechange', state);
  });

  const dispatcher = new Dispatcher({
    getState,
    onHandlerError: (error) => {
      bumpCounter('handlerErrors');
      emit('error', error);
    },
  });

  const pipeline = new EventPipeline(
    {
      onEvents: deliver,
      onGap: (gap) => {
        bumpCounter('gaps');
        emit('gap', gap);
        if (isLeaderNow()) loop.requestReplay();
        else askLeaderForReplay();
      },
      onResync: ({ services, reason }) => {
        bumpCounter('resyncs');
        // Seqs may restart after a reset (a new epoch): the invariant starts over.
        for (const service of services) lastDelivered.delete(service);
        showCursor();
        emit('resync', { services, reason });
      },
      onSuppressed: (service, count, reason) => {
        addSuppressed(service, count);
        if (reason === 'invalid') toSli((sli) => sli.droppedEvents(count));
      },
    },
    options.dedupWindow,
  );

  const breaker = new CircuitBreaker({ ...options.circuit, clock });
  breaker.onStateChange(() => {
    circuitToGuard();
    setState({ circuit: circuitState() });
  });

  const chain = new TransportChain(
    resolveTransports(options.transports, {
      // `WebSocket`, `fetch` and the clock (long-poll's pacing); the rest of
      // the platform is no built-in's option. The wall clock: Retry-After dates.
      ...(platform as TransportPlatform),
      now: wallClock,
      // SSE parses frames out of its stream itself: it must keep what the core
      // accepts. Long-poll parses answers whole: it must drop what the core would.
      maxFrameChars: options.maxFrameChars,
    }),
    // Where the browser remembers a fallback, for the tabs of this app and scope.
    platform.storage ?? defaultStorage(),
    `${channelName(options.appKey, options.scope)}:transport`,
    wallClock,
  );
  const loop = new ConnectionLoop({
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
    breaker: breaker,
    backoff: new ExponentialBackoff({ ...options.backoff, floorMs: options.backoff.baseMs, random }),
    watchdog: new HeartbeatWatchdog({ clock, onDead: () => loop.heartbeatMissed() }),
    clock,
    isOnline,
    subscription: () => {
      const wanted = subscription();
      liveSubscription = JSON.stringify(wanted);
      return wanted;
    },
    // Ours, reaching back for a follower's replay.
    // Of the services subscribed to only (see EventPipeline.getCursor).
    cursor: () => (cursorSent = lowerTo(pipeline.getCursor(true), replayFloor)),
    sink: {
      status: (status) => setState({ status, circuit: circuitState() }),
      welcome: (frame, transport, connectMs) => {
        coordinator?.post({ type: 'frame', frame });
        // The floor asked for was in the cursor this connection opened with:
        // the server replays from it, and the floor is done with. One asked
        // for since, while this connection was being opened, may reach
        // below that cursor: then it stays, and is replayed once this
        // welcome is applied (a reconnect), as nothing else would ask again
        // on a quiet stream. (One since that the cursor covers is done
        // with too: the server replays it as well, unless the asking tab's
        // needs came since, so that this connection may filter out its
        // property: the update to come replays nothing.)
        const floor = replayFloor;
        const replayNow =
          floor &&
          (JSON.stringify(subscription()) !== liveSubscription ||
            Object.keys(floor).some((s) => !(floor[s]! >= cursorSent[s]!)));
        if (!replayNow) replayFloor = undefined;
        // A frame received, as the relayed welcome is in a follower.
        guard.recordFrames(1, 0);
        // The server's time at the welcome, half the connect's round trip
        // ago: a client clock minutes off still measures latency right.
        welcomed(frame, connectMs / 2);
        // Needs that changed while this connection was being opened.
        queueUpdate();
        let { byServiceReconnects, counters, leader, services } = getState();
        if (welcomes++ > 0) {
          counters = plus(counters, 'reconnects');
          for (const service of services) byServiceReconnects = plus(byServiceReconnects, service);
        }
        if (takeoverStartedAt !== undefined) {
          const takeoverMs = clock.now() - takeoverStartedAt;
          toSli((sli) => sli.tookOver(takeoverMs));
          leader = leaderWith({ lastTakeoverMs: Math.round(takeoverMs) });
          takeoverStartedAt = undefined;
        }
        setState({
          transport,
          connectionId: frame.connectionId,
          lastSuccessAt: wallClock(),
          cursor: pipeline.getCursor(),
          byServiceReconnects,
          leader,
          counters,
        });
        // A reconnect, also over long-poll, and not a replay, which waits
        // when asked again soon (this connection may be one): the batches
        // that follow, of its filter, would move the tabs past the floor.
        if (replayNow) loop.reconnectNow();
      },
      frame: (frame) => {
        // A reset starts an epoch, named here for every tab that applies it.
        const epoch = frame.type === 'reset' ? randomId() : undefined;
        // Relay first: the followers' latency should not include our handlers.
        if (frame.type !== 'heartbeat') coordinator?.post({ type: 'frame', frame, epoch });
        guard.recordFrames(1, 0);
        applyServerFrame(frame, epoch);
      },
      // Devtools and the server's logs must name the same connection.
      reopened: (connectionId) => setState({ connectionId }),
      invalidFrame,
      disconnected: (error, willRetryInMs, wasWelcomed) => {
        // A live connection that dropped is no failed attempt (its welcome
        // counted it a success), as the breaker and the docs count them.
        const { counters } = getState();
        setState({
          lastError: `${error.code}: ${error.message}`,
          counters: wasWelcomed ? counters : plus(counters, 'failedConnects'),
          circuit: circuitState(),
        });
        // The guard may have tripped at this very failure (a probe of a
        // circuit open too long): then no retry comes, and none is promised.
        emit('disconnected', { error, willRetryInMs: loop.isRunning ? willRetryInMs : undefined });
      },
      forbidden: becomeForbidden,
      updated: (cursor) => {
        if (cursor) {
          // A service back in the union (its only tab left and returned,
          // or was taken for gone) starts at the server's head, ahead of
          // the cursor the tabs kept for it: have the hole replayed now, as
          // nothing shows it before the service's next event (if any).
          const own = pipeline.getCursor();
          const behind = Object.keys(cursor).some((s) => own[s]! < cursor[s]!);
          pipeline.seed(cursor);
          coordinator?.post({ type: 'cursor', cursor });
          if (behind) loop.requestReplay();
        }
        showCursor();
      },
    },
  });

  const stopLifecycle = watchPageLifecycle(
    page,
    // The network changed: the proxy the chain fell back from may be gone.
    // Only the order: a live connection stays.
    () => {
      chain.forgetFallback();
      loop.online();
    },
    () => loop.ensureAlive(),
    // Resumed.
    () => {
      if (!coordinator) loop.resume();
      else if (active && !closed) rejoin();
    },
    // Suspended: frozen or in the back/forward cache, hold no socket and no lock there.
    () => {
      // Also without a coordinator (leave() flushes again, harmless): a page
      // discarded while frozen, or evicted from the cache, never runs its
      // coalesced write.
      void cursorStore?.flush();
      if (!coordinator) loop.suspend();
      else if (active) {
        adoptLeaderCursor = false;
        away = true;
        lastLeaderState = undefined;
        leave('connecting');
      }
    },
    // Unloading: say goodbye and free the lease now: with the storage strategy
    // the next leader would otherwise wait takeoverMs for a tab that is gone.
    () => {
      void cursorStore?.flush(1);
      void coordinator?.stop();
    },
  );

  if (options.devtools) showState(client);
  // The options' flags, as the state has them: to the dispatcher, and the gate.
  applyFlags();
  // Off from the start, `fallback` fired before the app could listen: again
  // once listeners attached right after createRealtime can hear it, unless
  // realtime came on, or `fallback` fired meanwhile (off for another reason,
  // or on and off again).
  const off = getState().disabledReason;
  const fired = fallbacks;
  if (off)
    queueMicrotask(() => {
      if (getState().disabledReason === off && fallbacks === fired) fallback(off);
    });
  return client;
}

/**
 * Merges another tab's view of the flags into ours so that every disable
 * wins: `enabled` only if both say so, a kill switch or shadow mode if either
 * does, the lower rollout, both lists. A flag theirs leaves out is ours.
 */
function disableWins(own: ResolvedFlags, theirs: FlagsMessage['flags']): ResolvedFlags {
  const merged: Record<string, unknown> = {};
  for (const key in own) {
    const mine = own[key as FlagName] as never;
    const other = (theirs[key as FlagName] ?? mine) as never;
    merged[key] = Array.isArray(mine)
      ? [...new Set([...mine, ...(other as string[])])]
      : key === 'enabled'
        ? mine && other
        : key === 'rolloutPercent'
          ? Math.min(mine, other)
          : mine || other;
  }
  return merged as unknown as ResolvedFlags;
}

type FlagName = keyof ResolvedFlags;

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
function lowerTo(cursor: Cursor, floor: Cursor | undefined): Cursor {
  // No floor: for-in over undefined walks nothing.
  for (const service in floor as Cursor) {
    const seq = floor![service] as number;
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
    const resolved = guarded<URL>(() => new URL(url, against));
    if (!resolved) continue;
    // fetch refuses credentials, but only at each request and naming no
    // option. Masked in the message: either part may be a secret. Only a
    // check (a valid URL resolves the same without it): development-only.
    if (process.env.NODE_ENV !== 'production' && (resolved.username || resolved.password)) {
      resolved.username = resolved.password = '***';
      fail(field, 'a URL without credentials', resolved.href);
    }
    return resolved.href;
  }
  fail(field, 'a URL, absolute or relative', url);
}
