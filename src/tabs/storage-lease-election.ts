import type { Clock, RandomSource } from '../clock';
import type { LeaderElectionOptions, StorageLike } from './leader-election';

// The `storage` strategy of LeaderElection, in a module of its own: it is
// loaded with import() only where it runs (strategy `storage`, or `auto`
// without Web Locks), so the many browsers with Web Locks never download it.
// It imports nothing from the modules that load it, so that bundlers keep
// those in the app's main chunk instead of splitting them off as shared.

/** Delay between writing a claim and reading it back; a racing claimant's write lands in it. */
export const CLAIM_SETTLE_MS = 50;

/** Version of the lease format; any other `v` is foreign and overwritten. */
const LEASE_VERSION = 1;

type Lease = { tabId: string; nonce: string; v: typeof LEASE_VERSION };

/**
 * `z.string().check(z.minLength(1), z.maxLength(max))`: zod counts code
 * points. A code point is at most two UTF-16 units, so a longer string is
 * refused before it is split.
 */
function isText(value: unknown, max: number): value is string {
  return typeof value === 'string' && value !== '' && value.length <= 2 * max && [...value].length <= max;
}

/**
 * A parsed lease as `leaseSchema` (channel-schemas.ts, their definition)
 * reads it: same value, unknown keys stripped; or undefined where it would
 * refuse. Written out rather than with the protocol's readers so that this
 * module imports nothing: a module it shared with the core would become a
 * chunk of its own in every app. Exported for its test.
 */
export function readLease(json: unknown): Lease | undefined {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return undefined;
  const { tabId, nonce, v } = json as Record<string, unknown>;
  return isText(tabId, 128) && isText(nonce, 64) && v === LEASE_VERSION ? { tabId, nonce, v } : undefined;
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

/** Lease writes so far in this realm: with the tab id and a random part, each write's text is new. */
let writes = 0;

/** How the lease tells its election: `true`, this tab won; `false`, it follows `leaderTabId` (if known). */
export type LeaseReport = (isLeader: boolean, leaderTabId?: string) => void;

/**
 * One run (start to stop) of the localStorage lease; the protocol is
 * described on {@link LeaderElection}. Every decision is made in a tick: the
 * first at {@link start}, then every `takeoverMs / 3`, or
 * {@link CLAIM_SETTLE_MS} after writing a claim, when the claim is read back.
 */
export class StorageLease {
  readonly #key: string;
  readonly #tabId: string;
  readonly #takeoverMs: number;
  readonly #tickMs: number;
  readonly #storage: StorageLike | undefined;
  readonly #beat: (() => void) | undefined;
  readonly #clock: Clock;
  readonly #random: RandomSource;
  readonly #report: LeaseReport;

  #running = true;
  #isLeader = false;
  /** A claim was written; the next tick reads it back. */
  #claiming = false;
  #timer: unknown;
  #observedRaw: string | null | undefined;
  #observedAt = 0;
  /** So the first tick counts as late: it starts a fresh observation window. */
  #lastTickAt = Number.NEGATIVE_INFINITY;
  /** Time between the previous two ticks: the pace the browser lets our timers run at now. */
  #lastGap: number;
  /** Our latest write threw: an empty key then proves nothing, as nobody can fill it. */
  #writesFail: boolean;

  /**
   * @param storage `options.storage` or its default, resolved by the caller.
   * @param writesFail what {@link stop} of this tab's previous run returned.
   *   A tab whose writes threw, joining again (after idle, the back/forward
   *   cache), tries one claim at its start like any tab; if that cannot be
   *   made, it goes on judging an empty key by peer beats alone, rather than
   *   leading at once beside a live leader nobody can see in storage.
   */
  constructor(
    options: LeaderElectionOptions,
    storage: StorageLike | undefined,
    report: LeaseReport,
    writesFail = false,
  ) {
    const { takeoverMs } = options;
    this.#key = `${options.name}:lease`;
    this.#tabId = options.tabId;
    this.#takeoverMs = takeoverMs;
    // takeoverMs ≥ 100 (checked by createRealtime) keeps the tick ≥ 33 ms.
    this.#tickMs = Math.floor(takeoverMs / 3);
    this.#lastGap = this.#tickMs;
    this.#storage = storage;
    this.#beat = options.beat;
    this.#clock = options.clock;
    this.#random = options.random ?? Math.random;
    this.#report = report;
    this.#writesFail = writesFail;
  }

  start(): void {
    this.#tick();
  }

  /**
   * Leaves the election: no more ticks, and our own lease (or pending claim)
   * removed. Returns whether this tab's latest lease write threw, for the
   * tab's next run.
   */
  stop(): boolean {
    this.#running = false;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    // A claim in its settle window is a lease too: left behind, the next
    // leader would wait takeoverMs for a tab that is gone.
    // Only our own lease: another tab's is none of our business.
    if ((this.#isLeader || this.#claiming) && this.#read()?.holder === this.#tabId) {
      try {
        this.#storage?.removeItem(this.#key);
      } catch {
        // Unremovable: followers take over after takeoverMs instead.
      }
    }
    return this.#writesFail;
  }

  /** Another tab announced (on the channel) that it leads. */
  heard(peer: string): void {
    const now = this.#clock.now();
    if (this.#isLeader) {
      const read = this.#read();
      // A lease naming the very tab whose beat this is proves it alive, even
      // one this tab judged stale (a frozen leader whose writes throw): it
      // keeps leading on it, so this tab must not.
      if (read?.holder === peer || this.#heldByOther(read)) this.#stepDown(read as HeldLease, now);
      else if (read?.holder !== this.#tabId && peer < this.#tabId) {
        // No lease tells us apart (storage unusable, or only a dead tab's
        // that nobody can overwrite): the smaller id keeps it.
        this.#observedAt = now;
        this.#set(false, peer);
      }
      return;
    }
    // A live leader: restart the observation window.
    this.#observedAt = now;
    if (!this.#claiming) this.#set(false, peer);
  }

  #tick(): void {
    const now = this.#clock.now();
    // Frozen timers (background tab, sleep): a follower's observation from
    // before says nothing about now. A leader renews at once regardless.
    // Late is judged against the pace our timers ran at last, not only
    // against tickMs: a hidden tab's timers are throttled for good (once a
    // second, or a minute in Chrome's intensive throttling), and taking every
    // such tick for a freeze restarted the window on every tick, so hidden
    // followers never replaced a dead leader. A steady slow pace is judged
    // as it is; only a jump beyond it (a freeze, a sleep) restarts the window.
    const gap = now - this.#lastTickAt;
    const late = gap > Math.max(this.#tickMs, this.#lastGap) * 2;
    const first = this.#lastTickAt === Number.NEGATIVE_INFINITY;
    if (!first) this.#lastGap = gap;
    this.#lastTickAt = now;
    const read = this.#read();
    const claimed = this.#claiming;
    this.#claiming = false;
    if ((claimed || this.#isLeader) && this.#heldByOther(read)) {
      // Of racing claimants the last writer won; a leader that ever reads
      // someone else's lease steps down.
      this.#stepDown(read, now);
    } else if (claimed) {
      // Wiped between write and read-back: try again on the next tick.
      if (read !== undefined && read.holder === undefined) this.#observedAt = now;
      else this.#lead();
    } else if (this.#isLeader) {
      this.#writeOwn();
      this.#beat?.();
    } else {
      this.#follow(read, now, late, first);
    }
    // A listener may have stopped us meanwhile.
    if (this.#running) {
      this.#timer = this.#clock.setTimeout(
        () => this.#tick(),
        this.#claiming ? CLAIM_SETTLE_MS : this.#tickMs,
      );
    }
  }

  #follow(read: LeaseRead | undefined, now: number, late: boolean, first: boolean): void {
    const holder = read?.holder;
    // An empty key after our writes threw proves nothing, except at the start
    // of a run, which tries a claim (a write) all the same.
    if (
      holder === this.#tabId ||
      (read !== undefined && holder === undefined && (first || !this.#writesFail))
    ) {
      // Nobody leads (absent, corrupt, foreign, or our own stale lease).
      if (this.#startClaim()) return;
      // The claim cannot be written: then nobody's can, and the empty key
      // proves nothing. Listen for beats from here (the branch below) and
      // lead only if none comes for takeoverMs, as where reads throw;
      // leading at once made every tab opened beside a live leader a second
      // leader (and one with a smaller id took leadership from it).
      this.#observedAt = now;
      return;
    }
    // From here on: another tab's lease, unreadable storage, or a key nobody
    // can write (the last two judged by peer beats alone).
    const raw = holder === undefined ? undefined : read?.raw;
    const changed = holder !== undefined && raw !== this.#observedRaw;
    if (late || changed) {
      // Late: see #tick. Otherwise the lease changed: its holder is alive.
      this.#observedRaw = raw;
      this.#observedAt = now;
      // Its holder is named only then: an unchanged lease may be a dead tab's
      // that nobody can overwrite (writes throw), beside the live leader whose
      // beats named it (heard); naming both in turn flapped the leader's id.
      if (changed) this.#set(false, holder);
    } else if (now - this.#observedAt >= Math.max(this.#takeoverMs, 2 * this.#lastGap)) {
      // Unchanged across two of our own intervals too, not only takeoverMs:
      // throttled hidden tabs (Chrome: once a minute) all wake at the same
      // aligned instant, in no fixed order, so a live leader renewing just
      // after our read one minute and just before it the next looks
      // unchanged for a whole interval; claiming then moved leadership, and
      // left the browser without a connection, at every change of order.
      this.#claim();
    }
  }

  #claim(): void {
    // Storage refuses writes: we only get here when nobody else has been
    // seen or heard for takeoverMs.
    if (!this.#startClaim()) this.#lead();
  }

  /**
   * Writes our claim, read back on the next tick. Until then no tab is known
   * to lead: the one whose lease this replaces is gone (a stale or removed
   * lease), so the tab must stop showing its connection as live.
   */
  #startClaim(): boolean {
    if (!this.#writeOwn()) return false;
    this.#claiming = true;
    this.#set(false);
    return true;
  }

  /** Wins and tells the other tabs at once. */
  #lead(): void {
    this.#set(true);
    this.#beat?.();
  }

  /** Follows the holder of `read`, whose lease was just seen (at `now`). */
  #stepDown(read: HeldLease, now: number): void {
    this.#observedRaw = read.raw;
    this.#observedAt = now;
    this.#set(false, read.holder);
  }

  #set(isLeader: boolean, leaderTabId?: string): void {
    this.#isLeader = isLeader;
    this.#report(isLeader, leaderTabId);
  }

  /**
   * Whether `read` shows a lease held by another tab, other than the one this
   * tab found stale and claimed over: where writes throw (the origin's quota
   * full), a crashed leader's lease stays in the key for good, and taking it
   * for a live one made the tab that leads in its place step down at every
   * tick, and lead again takeoverMs later: a reconnect every few seconds.
   * Lease texts are never written twice (fresh nonces), so the same text
   * proves nothing.
   */
  #heldByOther(read: LeaseRead | undefined): read is HeldLease {
    return read?.holder !== undefined && read.holder !== this.#tabId && read.raw !== this.#observedRaw;
  }

  #writeOwn(): boolean {
    const nonce = `${(++writes).toString(36)}.${Math.floor(this.#random() * 2 ** 32).toString(36)}`;
    try {
      // Missing storage throws here too: both mean nobody can see our lease.
      this.#storage!.setItem(
        this.#key,
        JSON.stringify({ tabId: this.#tabId, nonce, v: LEASE_VERSION } satisfies Lease),
      );
      this.#writesFail = false;
    } catch {
      this.#writesFail = true;
    }
    return !this.#writesFail;
  }

  /** One read of the lease key; `undefined` where storage is missing or throws. */
  #read(): LeaseRead | undefined {
    let raw: string | null;
    try {
      raw = this.#storage!.getItem(this.#key);
    } catch {
      return undefined; // missing storage throws here too
    }
    let holder: string | undefined;
    try {
      if (raw !== null) holder = readLease(JSON.parse(raw))?.tabId;
    } catch {
      // corrupt: nobody holds it
    }
    return { raw, holder };
  }
}
