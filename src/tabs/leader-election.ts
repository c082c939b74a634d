import { type Clock, type RandomSource, systemClock } from '../clock';
import { type Field, oneOf, readObject, text } from '../protocol/read';
import { type Listener, type ListenerErrorHandler, Listeners, reportListenerError } from '../util/emitter';
import { MAX_TIMER_DELAY_MS } from '../util/timers';
import { assertFunction, assertInteger, assertOneOf, assertString } from '../util/validate';

/** How the tabs pick their leader, after `auto` was resolved. */
export type ElectionStrategy = 'locks' | 'storage' | 'none';

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
 * Optional hooks onto the tab channel for the storage strategy: the leader
 * calls `send` after each lease renewal, and a follower counts every peer
 * beat as proof of a live leader, on top of polling the lease.
 */
export interface ElectionHeartbeat {
  send(): void;
  /** Subscribes to the leader beats of other tabs; returns the unsubscribe function. */
  onPeerBeat(listener: (leaderTabId: string) => void): () => void;
}

/** Options of {@link LeaderElection}; the `leader` group of `createRealtime` plus the platform. */
export interface LeaderElectionOptions {
  /** Lock / lease name, already scoped by the caller (e.g. `tabwire:app:org_1:u_1`). */
  name: string;
  /** This tab's id. */
  tabId: string;
  /** `auto`: `locks` where a lock manager exists, else `storage`. */
  strategy: 'auto' | ElectionStrategy;
  /** Storage lease: a leader unseen this long (by the follower's own clock) is replaced. Integer ≥ 100, default 3000. */
  takeoverMs?: number;
  /** Default `globalThis.navigator?.locks`. */
  locks?: LockManagerLike;
  /** Default `globalThis.localStorage` (read lazily and guarded: its very access may throw). */
  storage?: StorageLike;
  /** Channel hooks for the storage strategy; see {@link ElectionHeartbeat}. */
  heartbeat?: ElectionHeartbeat;
  /** Monotonic time source and timers. Default {@link systemClock}. */
  clock?: Clock;
  /** Lease nonces. Default `Math.random`. */
  random?: RandomSource;
  /** Receives a lock request that failed other than by our own abort. Default {@link reportListenerError}. */
  onError?: ListenerErrorHandler;
}

/** Payload of {@link LeaderElection.onChange}. */
export interface LeaderChange {
  readonly isLeader: boolean;
  readonly leaderTabId?: string;
}

/** Default of {@link LeaderElectionOptions.takeoverMs}. */
export const DEFAULT_TAKEOVER_MS = 3000;

/** Delay between writing a claim and reading it back; a racing claimant's write lands in it. */
export const CLAIM_SETTLE_MS = 50;

/** Version of the lease format; any other `v` is foreign and overwritten. */
const LEASE_VERSION = 1;

type Lease = { tabId: string; nonce: string; v: typeof LEASE_VERSION };

/** The lease's fields; `leaseSchema` of channel-schemas.ts is their definition. */
const LEASE_FIELDS: readonly Field[] = [
  ['tabId', text(1, 128)],
  ['nonce', text(1, 64)],
  ['v', oneOf(LEASE_VERSION)],
];

/**
 * A parsed lease as `leaseSchema` reads it (same value, unknown keys
 * stripped), or undefined where it would refuse. Exported for its test.
 */
export function readLease(json: unknown): Lease | undefined {
  return readObject(json, LEASE_FIELDS) as Lease | undefined;
}

/**
 * What one read of the lease key showed; `undefined` stands for storage
 * that cannot be read.
 */
interface LeaseRead {
  /** The stored text, compared to tell a renewed lease from a stale one. */
  readonly raw: string | null;
  /** The tab holding a valid lease; `undefined` for an absent, corrupt or foreign value. */
  readonly holder: string | undefined;
}

/** A read showing a valid lease. */
type HeldLease = LeaseRead & { readonly holder: string };

/** The holder of the lease stored as `raw`, if it is a valid lease. */
function leaseHolder(raw: string | null): string | undefined {
  if (raw === null) return undefined;
  try {
    return readLease(JSON.parse(raw))?.tabId;
  } catch {
    return undefined; // corrupt
  }
}

/** `navigator.locks`, or undefined where there are none. Shared with the client's `auto` strategy. */
export function defaultLocks(): LockManagerLike | undefined {
  const nav = (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator;
  return nav?.locks ?? undefined;
}

/** `globalThis.localStorage`, or undefined where it is missing or blocked. Shared with tab-channel.ts and the client. */
export function defaultStorage(): StorageLike | undefined {
  try {
    return (globalThis as { localStorage?: StorageLike }).localStorage;
  } catch {
    // Access itself throws in some privacy modes (SecurityError).
    return undefined;
  }
}

/**
 * Decides which tab of the browser holds the one connection.
 *
 * - `locks` (Web Locks): every tab keeps one pending exclusive request on
 *   `name`; the holder leads until `stop()` or its death, and the browser
 *   grants the next request the instant the holder dies, so takeover needs no
 *   timeout. A lock has no payload, so a follower cannot learn the leader's
 *   id from it: `leaderTabId` of a follower is whatever the caller passes to
 *   {@link setLeaderTabId} (the relay hears the leader announce itself), and
 *   `undefined` until then. We keep this honest rather than guess it.
 * - `storage`: a lease `{ tabId, nonce, v: 1 }` under `${name}:lease`. The
 *   leader rewrites it with a fresh nonce every `takeoverMs / 3`; a follower
 *   polls at the same pace and remembers, by its OWN monotonic clock, when
 *   the value last changed. No time is ever stored or compared across tabs,
 *   so clock skew and `Date.now` jumps cannot elect two leaders. A lease
 *   unchanged for `takeoverMs` is taken over; an absent, corrupt or foreign
 *   one at once. A claim is a write read back after {@link CLAIM_SETTLE_MS}:
 *   of simultaneous claimants the last writer wins and the others back off,
 *   and a leader that ever reads someone else's lease steps down.
 * - `none`: always leader.
 *
 * Throwing storage (privacy mode, quota): the tab cannot see a lease (or,
 * when only writes throw, an empty key proves nothing since nobody can fill
 * it), so it leads only if nobody else can be seen — no peer heartbeat for
 * `takeoverMs`.
 * Two such leaders that hear each other's beats keep the smaller tab id.
 * Without heartbeat hooks every such tab leads alone: a duplicate connection
 * is the honest outcome when tabs cannot see each other, none would be worse.
 *
 * Frozen timers (background tab, sleep): a leader's late timer renews at
 * once (every leader tick does); a follower's late timer only re-reads the
 * lease and restarts its observation window, so a stale observation made
 * before the freeze never steals leadership from a live leader.
 */
export class LeaderElection {
  /** The strategy in use (`auto` resolved). */
  readonly strategy: ElectionStrategy;
  readonly #name: string;
  readonly #leaseKey: string;
  readonly #tabId: string;
  readonly #takeoverMs: number;
  readonly #tickMs: number;
  readonly #locks: LockManagerLike | undefined;
  readonly #storage: StorageLike | undefined;
  readonly #heartbeat: ElectionHeartbeat | undefined;
  readonly #clock: Clock;
  readonly #random: RandomSource;
  readonly #onError: ListenerErrorHandler;
  readonly #listeners = new Listeners<LeaderChange>();

  #isLeader = false;
  #leaderTabId: string | undefined;
  #electionsWon = 0;
  #running = false;
  /** Bumped by every start/stop so callbacks of an older run do nothing. */
  #generation = 0;

  // locks
  #abort: AbortController | undefined;
  #release: (() => void) | undefined;
  #request: Promise<unknown> | undefined;

  // storage
  #timer: unknown;
  #timerArmed = false;
  #claiming = false;
  #observedRaw: string | null | undefined;
  #observedAt = 0;
  #lastTickAt = 0;
  #nonceCounter = 0;
  /** Our latest write threw: an empty key then proves nothing, as nobody can fill it. */
  #writesFail = false;
  #unsubscribeBeat: (() => void) | undefined;

  /** @throws RangeError naming the field when an option is out of range. */
  constructor(options: LeaderElectionOptions) {
    assertString('leader.name', options.name, { nonEmpty: true });
    assertString('leader.tabId', options.tabId, { nonEmpty: true });
    assertOneOf('leader.strategy', options.strategy, ['auto', 'locks', 'storage', 'none'] as const);
    const takeoverMs = options.takeoverMs ?? DEFAULT_TAKEOVER_MS;
    assertInteger('leader.takeoverMs', takeoverMs, 100, MAX_TIMER_DELAY_MS);
    if (options.heartbeat !== undefined) {
      assertFunction('leader.heartbeat.send', options.heartbeat.send);
      assertFunction('leader.heartbeat.onPeerBeat', options.heartbeat.onPeerBeat);
    }
    const locks = options.locks ?? defaultLocks();
    let strategy: ElectionStrategy;
    if (options.strategy === 'auto') strategy = locks === undefined ? 'storage' : 'locks';
    else strategy = options.strategy;
    if (strategy === 'locks' && locks === undefined) {
      throw new RangeError(
        `leader.strategy must not be "locks" where navigator.locks is missing, got "locks"`,
      );
    }
    this.strategy = strategy;
    this.#name = options.name;
    this.#leaseKey = `${options.name}:lease`;
    this.#tabId = options.tabId;
    this.#takeoverMs = takeoverMs;
    // takeoverMs ≥ 100 (checked above) keeps the tick ≥ 33 ms.
    this.#tickMs = Math.floor(takeoverMs / 3);
    this.#locks = locks;
    this.#storage = strategy === 'storage' ? (options.storage ?? defaultStorage()) : options.storage;
    this.#heartbeat = options.heartbeat;
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? Math.random;
    this.#onError = options.onError ?? reportListenerError;
  }

  /** Whether this tab holds the connection now. */
  get isLeader(): boolean {
    return this.#isLeader;
  }

  /** The leader's tab id where known (see the class comment for `locks`). */
  get leaderTabId(): string | undefined {
    return this.#leaderTabId;
  }

  /** How many times this tab became leader (the elections-per-hour SLI). */
  get electionsWon(): number {
    return this.#electionsWon;
  }

  /**
   * Calls `listener` after every change of `isLeader` or `leaderTabId`.
   * Returns the unsubscribe function.
   */
  onChange(listener: Listener<LeaderChange>): () => void {
    return this.#listeners.add(listener);
  }

  /**
   * Tells a follower who leads, as learned from the channel (the lock
   * strategy cannot know it otherwise). Ignored while this tab leads, while
   * stopped, and under `storage` / `none`, where the lease or this tab is the
   * truth.
   */
  setLeaderTabId(leaderTabId: string | undefined): void {
    if (!this.#running || this.#isLeader || this.strategy !== 'locks') return;
    if (leaderTabId === this.#tabId) return;
    this.#set(false, leaderTabId);
  }

  /** Joins the election. Calling it while running does nothing. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#generation++;
    if (this.strategy === 'none') this.#win();
    else if (this.strategy === 'locks') this.#startLocks();
    else this.#startStorage();
  }

  /**
   * Leaves the election and gives leadership up: the lock is released (or the
   * pending request aborted), our lease removed. The promise settles once
   * the lock manager has let go, so a caller may await the handover.
   */
  stop(): Promise<void> {
    if (!this.#running) return Promise.resolve();
    this.#running = false;
    this.#generation++;
    let settled: Promise<void> = Promise.resolve();
    if (this.strategy === 'locks') {
      const request = this.#request;
      this.#release?.();
      this.#release = undefined;
      this.#abort?.abort();
      this.#abort = undefined;
      this.#request = undefined;
      if (request !== undefined) settled = request.then(noop, noop);
    } else if (this.strategy === 'storage') {
      this.#clearTimer();
      this.#unsubscribeBeat?.();
      this.#unsubscribeBeat = undefined;
      const wasClaiming = this.#claiming;
      this.#claiming = false;
      // A claim in its settle window is a lease too: left behind, the next
      // leader would wait takeoverMs for a tab that is gone.
      // Only our own lease: another tab's is none of our business.
      if ((this.#isLeader || wasClaiming) && this.#read()?.holder === this.#tabId) {
        try {
          this.#storage?.removeItem(this.#leaseKey);
        } catch {
          // Unremovable: followers take over after takeoverMs instead.
        }
      }
    }
    this.#set(false, undefined);
    return settled;
  }

  // ---- locks -------------------------------------------------------------

  #startLocks(): void {
    const locks = this.#locks;
    if (locks === undefined) return;
    const generation = this.#generation;
    const abort = new AbortController();
    this.#abort = abort;
    let request: Promise<unknown>;
    try {
      request = locks.request(
        this.#name,
        { mode: 'exclusive', ifAvailable: false, signal: abort.signal },
        () => {
          if (generation !== this.#generation) return Promise.resolve();
          // Held until stop(); the browser frees it by itself if the tab dies.
          const held = new Promise<void>((resolve) => {
            this.#release = resolve;
          });
          this.#win();
          return held;
        },
      );
    } catch (error) {
      this.#onError(error);
      return;
    }
    this.#request = request;
    request.catch((error: unknown) => {
      // Our own abort in stop() is expected; anything else is worth a report.
      if (abort.signal.aborted) return;
      this.#onError(error);
    });
  }

  // ---- storage -----------------------------------------------------------

  #startStorage(): void {
    this.#unsubscribeBeat = this.#heartbeat?.onPeerBeat((peer) => this.#onPeerBeat(peer));
    const now = this.#clock.now();
    this.#lastTickAt = now;
    this.#observedAt = now;
    const read = this.#read();
    if (this.#heldByOther(read)) {
      // A lease we have not yet seen change: give its holder a full window.
      this.#stepDown(read, now);
      this.#schedule();
    } else if (read === undefined) {
      this.#observedRaw = undefined;
      this.#schedule();
    } else {
      this.#claim();
    }
  }

  #tick(): void {
    if (!this.#running) return;
    const now = this.#clock.now();
    const late = now - this.#lastTickAt > this.#tickMs * 2;
    this.#lastTickAt = now;
    if (this.#isLeader) {
      this.#renew(now);
    } else {
      this.#follow(now, late);
    }
    if (this.#running && !this.#claiming) this.#schedule();
  }

  #renew(now: number): void {
    const read = this.#read();
    if (this.#heldByOther(read)) {
      this.#stepDown(read, now);
      return;
    }
    this.#writeOwn();
    this.#heartbeat?.send();
  }

  #follow(now: number, late: boolean): void {
    const read = this.#read();
    const holder = read?.holder;
    if (holder === this.#tabId || (read !== undefined && holder === undefined && !this.#writesFail)) {
      // Nobody leads (absent, corrupt, foreign, or our own stale lease).
      this.#claim();
      return;
    }
    // From here on: another tab's lease, unreadable storage, or a key nobody
    // can write (the last two judged by peer beats alone).
    const raw = holder === undefined ? undefined : read?.raw;
    if (late || (holder !== undefined && raw !== this.#observedRaw)) {
      // Late: our timers were frozen, what we saw before says nothing about
      // now. Otherwise the lease changed: its holder is alive.
      this.#observedRaw = raw;
      this.#observedAt = now;
    } else if (now - this.#observedAt >= this.#takeoverMs) {
      this.#claim();
      return;
    }
    if (holder !== undefined) this.#set(false, holder);
  }

  #claim(): void {
    // No timer is armed here: claims start from start() and from a tick.
    if (!this.#writeOwn()) {
      // Storage refuses writes: we only claim when nobody else can be seen.
      this.#lead();
      this.#schedule();
      return;
    }
    this.#claiming = true;
    const generation = this.#generation;
    this.#armTimer(() => {
      if (generation !== this.#generation || !this.#running) return;
      this.#claiming = false;
      const read = this.#read();
      const now = this.#clock.now();
      this.#lastTickAt = now;
      if (this.#heldByOther(read)) {
        this.#stepDown(read, now);
      } else if (read !== undefined && read.holder === undefined) {
        // Wiped between write and read-back: try again on the next tick.
        this.#observedAt = now;
      } else {
        this.#lead();
      }
      this.#schedule();
    }, CLAIM_SETTLE_MS);
  }

  /** Storage: wins and tells the other tabs at once. */
  #lead(): void {
    this.#win();
    this.#heartbeat?.send();
  }

  /** Follows the holder of `read`, whose lease was just seen (at `now`). */
  #stepDown(read: HeldLease, now: number): void {
    this.#observedRaw = read.raw;
    this.#observedAt = now;
    this.#set(false, read.holder);
  }

  #onPeerBeat(peer: string): void {
    if (!this.#running || peer === this.#tabId) return;
    const now = this.#clock.now();
    if (this.#isLeader) {
      const read = this.#read();
      if (this.#heldByOther(read)) this.#stepDown(read, now);
      else if (read?.holder === undefined && peer < this.#tabId) {
        // No lease tells us apart (storage unusable): the smaller id keeps it.
        this.#observedAt = now;
        this.#set(false, peer);
      }
      return;
    }
    this.#observedAt = now;
    if (!this.#claiming) this.#set(false, peer);
  }

  /** Whether `read` shows a lease held by another tab. */
  #heldByOther(read: LeaseRead | undefined): read is HeldLease {
    return read?.holder !== undefined && read.holder !== this.#tabId;
  }

  #writeOwn(): boolean {
    this.#nonceCounter += 1;
    const nonce = `${this.#nonceCounter.toString(36)}.${Math.floor(this.#random() * 2 ** 32).toString(36)}`;
    const raw = JSON.stringify({ tabId: this.#tabId, nonce, v: LEASE_VERSION } satisfies Lease);
    try {
      if (this.#storage === undefined) return false;
      this.#storage.setItem(this.#leaseKey, raw);
      this.#writesFail = false;
      return true;
    } catch {
      this.#writesFail = true;
      return false;
    }
  }

  /** One read of the lease key; `undefined` where storage is missing or throws. */
  #read(): LeaseRead | undefined {
    if (this.#storage === undefined) return undefined;
    let raw: string | null;
    try {
      raw = this.#storage.getItem(this.#leaseKey);
    } catch {
      return undefined;
    }
    return { raw, holder: leaseHolder(raw) };
  }

  #schedule(): void {
    this.#armTimer(() => this.#tick(), this.#tickMs);
  }

  #armTimer(fn: () => void, ms: number): void {
    this.#clearTimer();
    this.#timerArmed = true;
    this.#timer = this.#clock.setTimeout(() => {
      this.#timerArmed = false;
      fn();
    }, ms);
  }

  #clearTimer(): void {
    if (!this.#timerArmed) return;
    this.#timerArmed = false;
    this.#clock.clearTimeout(this.#timer);
  }

  // ---- shared ------------------------------------------------------------

  #win(): void {
    if (this.#isLeader) return;
    this.#electionsWon += 1;
    this.#set(true, this.#tabId);
  }

  #set(isLeader: boolean, leaderTabId: string | undefined): void {
    if (this.#isLeader === isLeader && this.#leaderTabId === leaderTabId) return;
    this.#isLeader = isLeader;
    this.#leaderTabId = leaderTabId;
    this.#listeners.emit(leaderTabId === undefined ? { isLeader } : { isLeader, leaderTabId });
  }
}

function noop(): void {}
