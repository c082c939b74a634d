import type { Clock, RandomSource } from '../clock';
import { noop, reportListenerError } from '../util/emitter';
import { guarded } from '../util/guarded';
import type { StorageLease } from './storage-lease-election';

/**
 * How the tabs pick their leader, after `auto` was resolved. (The client
 * makes no election where it resolves `none`: the tab leads alone.)
 */
export type ElectionStrategy = 'locks' | 'storage';

/**
 * The part of `navigator.locks` the election uses, so tests and other
 * platforms can inject one. The real `LockManager` satisfies it.
 */
export interface LockManagerLike {
  request(
    name: string,
    options: { mode: 'exclusive'; ifAvailable: false; signal: AbortSignal },
    callback: (lock: unknown) => Promise<void>,
  ): Promise<unknown>;
}

/** The part of `localStorage` the storage lease uses; any call may throw. */
export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/**
 * Options of {@link LeaderElection}: the `leader` group of `createRealtime`
 * plus the platform. The client checked `strategy` and `takeoverMs` against
 * what the user may give already (options.ts); the rest is internal wiring.
 */
export interface LeaderElectionOptions {
  /** Lock / lease name, already scoped by the caller (e.g. `tabwire:app:org_1:u_1`). */
  name: string;
  /** This tab's id. */
  tabId: string;
  /**
   * Resolved already: the client turns `auto` into `locks` or `storage` as
   * the platform allows, in one place (or, for `none`, makes no election).
   */
  strategy: ElectionStrategy;
  /** Storage lease: a leader unseen this long (by the follower's own clock) is replaced. Integer ≥ 100. */
  takeoverMs: number;
  /** Default `globalThis.navigator?.locks`. */
  locks?: LockManagerLike;
  /** Default `globalThis.localStorage` (read lazily and guarded: its very access may throw). */
  storage?: StorageLike;
  /**
   * Storage strategy: called on winning and after each lease renewal, so the
   * caller can announce the leader on the channel; other tabs pass what they
   * hear to {@link LeaderElection.heardLeader}.
   */
  beat?: () => void;
  /** Monotonic time source and timers of the storage lease. */
  clock: Clock;
  /** Lease nonces. Default `Math.random`. */
  random?: RandomSource;
  /** Called after every change of `isLeader` or `leaderTabId`. */
  onChange?: (change: LeaderChange) => void;
}

/** Payload of {@link LeaderElectionOptions.onChange}. */
export interface LeaderChange {
  readonly isLeader: boolean;
  /** The leader's id where known (see {@link LeaderElection.heardLeader} for `locks`). */
  readonly leaderTabId: string | undefined;
}

/** `navigator.locks`, or undefined where there are none. Shared with the client, which resolves `auto`. */
export function defaultLocks(): LockManagerLike | undefined {
  return (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator?.locks ?? undefined;
}

/** `globalThis.localStorage`, or undefined where it is missing or blocked. Shared with tab-channel.ts and the client. */
export function defaultStorage(): StorageLike | undefined {
  // Access itself throws in some privacy modes (SecurityError).
  return guarded(() => (globalThis as { localStorage?: StorageLike }).localStorage);
}

/**
 * Decides which tab of the browser holds the one connection.
 *
 * - `locks` (Web Locks): every tab keeps one pending exclusive request on
 *   `name`; the holder leads until `stop()` or its death, and the browser
 *   grants the next request the instant the holder dies, so takeover needs no
 *   timeout. A lock has no payload, so a follower cannot learn the leader's
 *   id from it: `leaderTabId` of a follower is whatever the caller passes to
 *   {@link heardLeader} (the relay hears the leader announce itself), and
 *   `undefined` until then. We keep this honest rather than guess it.
 *   A request the browser refuses (Chromium rejects every one with
 *   SecurityError in an opaque origin or with the site's data blocked,
 *   though `navigator.locks` is there) is reported (`reportError`), and the
 *   tab joins the `storage` lease below instead: waiting would leave every
 *   tab without a leader for good.
 * - `storage` (storage-lease-election.ts, loaded with import() on the first
 *   start): a lease `{ tabId, nonce, v: 1 }` under `${name}:lease`. The
 *   leader rewrites it with a fresh nonce every `takeoverMs / 3`; a follower
 *   polls at the same pace and remembers, by its OWN monotonic clock, when
 *   the value last changed. No time is ever stored or compared across tabs,
 *   so clock skew and `Date.now` jumps cannot elect two leaders. A lease
 *   unchanged for `takeoverMs`, and across two of the follower's own timer
 *   intervals (longer where a hidden tab's timers are throttled), is taken
 *   over; an absent, corrupt or foreign one at once. A claim is a write
 *   read back after `CLAIM_SETTLE_MS`; in between, the claimant reports no leader (`leaderTabId` undefined), as
 *   the tab whose lease it replaces is gone, and so is that tab's connection.
 *   Of simultaneous claimants the last writer wins and the others back off,
 *   and a leader that ever reads someone else's lease steps down (not for
 *   the very lease it found stale: where writes throw, a dead tab's stays
 *   in the key for good; unless it hears that lease's holder beat, as a
 *   frozen leader does once it wakes, which leads on it). A leader
 *   announcement heard from another tab counts as proof of a live leader,
 *   on top of polling the lease.
 *
 * Throwing storage (privacy mode, quota): the tab cannot see a lease (or,
 * when only writes throw, an empty key proves nothing since nobody can fill
 * it), so it leads only if nobody else can be seen — no leader heard for
 * `takeoverMs`.
 * Two such leaders that hear each other keep the smaller tab id.
 * Without `beat` wiring every such tab leads alone: a duplicate connection
 * is the honest outcome when tabs cannot see each other, none would be worse.
 * For the same reason a tab whose lease code fails to load (a chunk gone
 * after a deploy, a network error) reports it (`reportError`) and leads alone.
 *
 * Frozen timers (background tab, sleep): a leader's late timer renews at
 * once (every leader tick does); a follower's late timer only re-reads the
 * lease and restarts its observation window, so a stale observation made
 * before the freeze never steals leadership from a live leader. "Late" is
 * measured against the pace the follower's timers last ran at, so a hidden
 * tab's steady throttling (once a second, or a minute) is not taken for a
 * freeze on every tick: such a follower still replaces a dead leader.
 */
export class LeaderElection {
  /** The strategy in use. */
  readonly strategy: ElectionStrategy;
  readonly #options: LeaderElectionOptions;
  readonly #locks: LockManagerLike | undefined;

  /** The leader's id where known: this tab's own while it leads, which is what `isLeader` reads. */
  #leaderTabId: string | undefined;
  /** Bumped by every start/stop so callbacks of an older run do nothing. */
  #generation = 0;
  /**
   * Leaves this run of the election; under `locks` it returns the request,
   * settled once the lock manager has let go. Set while running (a no-op
   * until there is something to leave): it doubles as the "running" flag.
   */
  #leave: (() => unknown) | undefined;
  /** storage: this run's lease, once its code has loaded. */
  #lease: StorageLease | undefined;
  /** storage: the lease's writes threw when it last ran; the next run starts from that. */
  #writesFail: boolean | undefined;
  /** locks: the browser refused a request; every later run joins the lease at once. */
  #locksRefused: boolean | undefined;

  /**
   * `takeoverMs` comes checked by createRealtime (an integer from 100 to the
   * largest timer delay).
   *
   * @throws RangeError for strategy `locks` where there is no lock manager.
   */
  constructor(options: LeaderElectionOptions) {
    const locks = options.locks ?? defaultLocks();
    if (options.strategy === 'locks' && !locks) {
      throw new RangeError('leader.strategy "locks" needs navigator.locks');
    }
    this.strategy = options.strategy;
    this.#options = options;
    this.#locks = locks;
  }

  /** Whether this tab holds the connection now. */
  get isLeader(): boolean {
    return this.#leaderTabId === this.#options.tabId;
  }

  /** How many times this tab became leader (the elections-per-hour SLI). Callers only read it. */
  electionsWon = 0;

  /**
   * Another tab announced on the channel that it leads. Under `locks` a
   * follower learns the leader's id this way (the lock cannot tell it);
   * under `storage` it proves a live leader. Ignored while stopped, by a
   * `locks` leader, and for this tab's own id.
   */
  heardLeader(leaderTabId: string): void {
    if (!this.#leave || leaderTabId === this.#options.tabId) return;
    if (this.#lease) this.#lease.heard(leaderTabId);
    else if (!this.isLeader && this.strategy === 'locks') this.#set(leaderTabId);
  }

  /** Joins the election. Calling it while running does nothing. */
  start(): void {
    if (this.#leave) return;
    this.#leave = noop;
    const generation = ++this.#generation;
    if (this.strategy === 'locks' && !this.#locksRefused) this.#startLocks(generation);
    else this.#startLease(generation);
  }

  /** Joins the storage lease: strategy `storage`, or `locks` the browser refused. */
  #startLease(generation: number): void {
    import('./storage-lease-election').then(
      ({ StorageLease }) => {
        // Stopped (and maybe started again, with a load of its own) meanwhile.
        if (generation !== this.#generation) return;
        const options = this.#options;
        const lease = new StorageLease(
          options,
          options.storage ?? defaultStorage(),
          (isLeader, leaderTabId) => this.#set(isLeader ? options.tabId : leaderTabId),
          this.#writesFail,
        );
        this.#lease = lease;
        this.#leave = () => {
          this.#writesFail = lease.stop();
        };
        lease.start();
      },
      (error: unknown) => {
        if (generation !== this.#generation) return;
        // Unable to see the other tabs, this tab leads alone (see the class comment).
        reportListenerError(error);
        this.#set(this.#options.tabId);
      },
    );
  }

  /**
   * Leaves the election and gives leadership up: the lock is released (or the
   * pending request aborted), our lease removed. The promise settles once
   * the lock manager has let go, so a caller may await the handover.
   */
  stop(): Promise<void> {
    const leave = this.#leave;
    let left: unknown;
    if (leave) {
      this.#leave = undefined;
      this.#generation++;
      left = leave();
      this.#lease = undefined;
      this.#set();
    }
    return Promise.resolve(left).then(noop, noop);
  }

  #startLocks(generation: number): void {
    const abort = new AbortController();
    let release: (() => void) | undefined;
    let request: Promise<unknown> | undefined;
    this.#leave = () => {
      release?.();
      abort.abort();
      return request;
    };
    try {
      // `locks` exists: the constructor refused the strategy otherwise.
      request = this.#locks!.request(
        this.#options.name,
        { mode: 'exclusive', ifAvailable: false, signal: abort.signal },
        // Held until stop(); the browser frees it by itself if the tab dies.
        () =>
          new Promise<void>((resolve) => {
            release = resolve;
            // A grant that comes after its run was stopped is let go at once.
            if (generation === this.#generation) this.#set(this.#options.tabId);
            else resolve();
          }),
      );
    } catch (error) {
      this.#refused(error, generation);
      return;
    }
    request.catch((error: unknown) => {
      // Our own abort in stop() is expected; anything else is worth a report.
      if (!abort.signal.aborted) this.#refused(error, generation);
    });
  }

  /**
   * A lock request failed other than by our abort. Browsers refuse every
   * request where Web Locks are denied (Chromium: SecurityError in an opaque
   * origin, or with the site's data blocked) while `navigator.locks` is
   * there, so `auto` chose them: no tab of the origin would ever win, and
   * realtime stayed off in all of them. The storage lease still elects one
   * (by the channel's beats where storage throws too), else this tab leads
   * alone, as where the lease's code cannot load.
   */
  #refused(error: unknown, generation: number): void {
    reportListenerError(error);
    // Only a refusal: a request that failed otherwise (a document no longer
    // fully active) may sit beside tabs that hold or wait for the lock, and
    // a lease of its own, which they never write, would make it a second
    // leader.
    if (generation === this.#generation && (error as { name?: unknown } | null)?.name === 'SecurityError') {
      // Reported once: a refusal holds for the page's life, and each start
      // (back from idle, from the back/forward cache) asked and reported again.
      this.#locksRefused = true;
      this.#startLease(generation);
    }
  }

  /**
   * Records who leads: this tab's own id when it wins (which no other tab
   * can announce: heardLeader ignores it, the lease never names us as
   * another's), else the leader heard of, or `undefined`.
   */
  #set(leaderTabId?: string): void {
    if (this.#leaderTabId === leaderTabId) return;
    this.#leaderTabId = leaderTabId;
    const isLeader = this.isLeader;
    if (isLeader) this.electionsWon++;
    // The listener's bug must not break the election.
    guarded(() => this.#options.onChange?.({ isLeader, leaderTabId }), reportListenerError);
  }
}
