import { type Clock, systemClock } from '../clock';
import { reportListenerError } from '../util/emitter';
import { MAX_TIMER_DELAY_MS } from '../util/timers';
import { assertFunction, assertInteger, assertNumber, assertObject } from '../util/validate';
import { assertMutationId } from './mutation-header';

/** Where a tracked mutation stands. Every state but `pending` is final. */
export type MutationStatus = 'pending' | 'visible' | 'timed_out' | 'cancelled';

/**
 * Why a mutation was cancelled: the app called `cancel()`; the pending set
 * was full and this was the oldest entry; or the tracker was disposed.
 */
export type MutationCancelReason = 'cancelled' | 'evicted' | 'disposed';

/** How a tracked mutation ended; the value of {@link TrackedMutation.result}. */
export type MutationOutcome =
  | { readonly status: 'visible'; readonly latencyMs: number }
  | { readonly status: 'timed_out'; readonly afterMs: number }
  | { readonly status: 'cancelled'; readonly reason: MutationCancelReason };

/**
 * One optimistic mutation being watched for its echo.
 *
 * `result` is the promise to `await`: it resolves exactly once with the
 * outcome and never rejects.
 *
 * `visible` and `timedOut` are conveniences for the callback style
 * (`m.visible.then(patch); m.timedOut.then(rollback)`). Each resolves only in
 * its own case and is otherwise never settled — resolving `timedOut` for a
 * visible mutation would run the rollback. A cancelled mutation (by the app,
 * evicted from a full pending set, or disposed) resolves neither; only
 * `result` tells the app, which then decides (e.g. refetch). Neither ever
 * rejects, so an unused one never raises an unhandled rejection. A
 * never-settled promise holds no resources: the tracker drops its resolve
 * functions when the mutation settles, so the promise and the callbacks
 * attached to it are garbage once the app lets go of the `TrackedMutation`.
 * Never `await` `visible` or `timedOut` (not even raced: a cancelled
 * mutation settles neither); `await` `result`.
 */
export interface TrackedMutation {
  readonly id: string;
  /** Resolves once with the outcome; never rejects. */
  readonly result: Promise<MutationOutcome>;
  /** Resolves when the echo arrived in time; otherwise never settles (see above). */
  readonly visible: Promise<{ readonly latencyMs: number }>;
  /** Resolves when the timeout passed first (roll back); otherwise never settles (see above). */
  readonly timedOut: Promise<void>;
  /** The current state, synchronously. */
  status(): MutationStatus;
  /** Stops tracking: settles as `cancelled` (reason `cancelled`) if still pending; otherwise does nothing. */
  cancel(): void;
}

/** Counters of {@link MutationTracker.stats}, since the tracker was created. */
export interface MutationTrackerStats {
  /** Mutations tracked (a repeated `track` of a pending id is not counted again). */
  readonly tracked: number;
  readonly visible: number;
  readonly timedOut: number;
  /** Timed-out mutations whose echo arrived afterwards (each counted once; also in `timedOut`). */
  readonly late: number;
  readonly cancelled: number;
  /** Pending right now. */
  readonly pending: number;
  /**
   * `timedOut / (visible + timedOut)`, 0 before any of those: the share of
   * mutations the app had to roll back. Cancelled ones have no verdict and
   * are left out; late ones stay timed out, as the rollback already ran.
   */
  readonly timeoutRate: number;
}

/** Options of {@link MutationTracker.track}. */
export interface TrackOptions {
  /** Milliseconds to wait for the echo. Default: the tracker's `defaultTimeoutMs`. */
  timeoutMs?: number;
}

/** Options of {@link MutationTracker}. */
export interface MutationTrackerOptions {
  /** Timeout of a `track` without its own, in ms. Default 10000. */
  defaultTimeoutMs?: number;
  /** Most mutations pending at once; tracking one more cancels the oldest. Integer ≥ 1, default 1000. */
  maxPending?: number;
  /** Most timed-out ids remembered for `late` detection. Integer ≥ 0, default 1000. */
  maxRemembered?: number;
  /** Time source for latencies and timeouts. Default {@link systemClock}. */
  clock?: Clock;
  /**
   * Called once per mutation when it settles, with its outcome: the feed of
   * the `mutationToVisibleMs` and `optimisticTimeoutRate` SLIs. What it
   * throws is reported and does not disturb the tracker.
   */
  onSettled?: (outcome: MutationOutcome, mutationId: string) => void;
  /**
   * Called when the echo of a timed-out mutation arrives, once per mutation;
   * `afterMs` is the time from `track` to the echo (how long the timeout
   * would have had to be). What it throws is reported.
   */
  onLate?: (mutationId: string, afterMs: number) => void;
}

// Plain constants for the constructor, so that bundles which never read the
// object below leave it out.
const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_PENDING = 1000;
const DEFAULT_MAX_REMEMBERED = 1000;

/** Defaults of {@link MutationTrackerOptions}. */
export const DEFAULT_MUTATION_TRACKER = {
  defaultTimeoutMs: DEFAULT_TIMEOUT_MS,
  maxPending: DEFAULT_MAX_PENDING,
  maxRemembered: DEFAULT_MAX_REMEMBERED,
} as const;

/** What {@link MutationTracker.observe} needs of an event: only its `mutationId`. */
export interface MutationEcho {
  readonly mutationId?: string | undefined;
}

interface Entry {
  readonly id: string;
  readonly trackedAt: number;
  status: MutationStatus;
  timer?: unknown;
  readonly handle: TrackedMutation;
  /** Resolves the handle's promises for `outcome`; called once, by `#finish`. */
  readonly settle: (outcome: MutationOutcome) => void;
}

/**
 * Watches optimistic mutations until the realtime stream shows them.
 *
 * The app tracks an id before sending its write (with the id in the
 * `X-Realtime-Mutation-Id` header, see `withMutationId`); the core calls `observe` with every batch it
 * dispatches in this tab — any service, relayed or direct — and the first
 * event carrying the id settles it as `visible`, with the latency from
 * `track`. If `timeoutMs` passes first it settles as `timed_out` so the app
 * rolls back; an echo after that is counted as `late`, never settles it a
 * second time.
 *
 * Track before sending: the echo can arrive before the write's HTTP response,
 * and an echo of an id not (yet) tracked is ignored.
 *
 * Memory is bounded whatever the app or the stream does. At most
 * `maxPending` mutations are pending: one more cancels the oldest (reason
 * `evicted`), because an app that tracks ids its backend never echoes — or a
 * bug tracking in a loop — must not grow memory and timers without limit,
 * and the oldest is the one closest to timing out anyway. At most
 * `maxRemembered` timed-out ids are remembered for `late` detection,
 * oldest forgotten first. Events carrying ids nobody tracked cost a Map
 * lookup and are never stored.
 */
export class MutationTracker {
  readonly #defaultTimeoutMs: number;
  readonly #maxPending: number;
  readonly #maxRemembered: number;
  readonly #clock: Clock;
  readonly #onSettled: MutationTrackerOptions['onSettled'];
  readonly #onLate: MutationTrackerOptions['onLate'];

  // Insertion order is tracking order, so the first key is the oldest.
  // Invariant: an entry is in here exactly while its status is `pending`.
  readonly #pending = new Map<string, Entry>();
  // Timed-out id → its track time; insertion order is timeout order.
  readonly #timedOutAt = new Map<string, number>();
  // The counters of `stats()`, under their names there.
  readonly #counts = { tracked: 0, visible: 0, timedOut: 0, late: 0, cancelled: 0 };
  #disposed = false;

  /** @throws RangeError naming the field when an option is out of range. */
  constructor(options: MutationTrackerOptions = {}) {
    const defaultTimeoutMs = options.defaultTimeoutMs ?? DEFAULT_TIMEOUT_MS;
    const maxPending = options.maxPending ?? DEFAULT_MAX_PENDING;
    const maxRemembered = options.maxRemembered ?? DEFAULT_MAX_REMEMBERED;
    assertNumber('defaultTimeoutMs', defaultTimeoutMs, 1, MAX_TIMER_DELAY_MS);
    assertInteger('maxPending', maxPending, 1);
    assertInteger('maxRemembered', maxRemembered, 0);
    if (options.onSettled !== undefined) assertFunction('onSettled', options.onSettled);
    if (options.onLate !== undefined) assertFunction('onLate', options.onLate);
    this.#defaultTimeoutMs = defaultTimeoutMs;
    this.#maxPending = maxPending;
    this.#maxRemembered = maxRemembered;
    this.#clock = options.clock ?? systemClock;
    this.#onSettled = options.onSettled;
    this.#onLate = options.onLate;
  }

  /**
   * Starts watching `mutationId`. Tracking an id that is still pending
   * returns the same `TrackedMutation` (its first timeout stays), so a
   * retried write shares one measurement. An id tracked again after it
   * settled starts afresh. After `dispose()`, returns a mutation already
   * cancelled (reason `disposed`) rather than throwing into app code that
   * races a close.
   *
   * @throws RangeError when `mutationId` or `timeoutMs` is invalid.
   */
  track(mutationId: string, options: TrackOptions = {}): TrackedMutation {
    assertMutationId('mutationId', mutationId);
    assertObject('options', options);
    const timeoutMs = options.timeoutMs ?? this.#defaultTimeoutMs;
    assertNumber('timeoutMs', timeoutMs, 1, MAX_TIMER_DELAY_MS);

    const existing = this.#pending.get(mutationId);
    if (existing) return existing.handle;

    const entry = this.#createEntry(mutationId);
    if (this.#disposed) {
      // Never enters the pending set, so `#finish` neither counts nor
      // reports it: the tracker's numbers ended with its life.
      this.#finish(entry, { status: 'cancelled', reason: 'disposed' });
      return entry.handle;
    }

    // A new tracking supersedes a timed-out one of the same id.
    this.#timedOutAt.delete(mutationId);
    for (const oldest of this.#pending.values()) {
      if (this.#pending.size < this.#maxPending) break;
      this.#finish(oldest, { status: 'cancelled', reason: 'evicted' });
    }
    this.#counts.tracked++;
    this.#pending.set(mutationId, entry);
    entry.timer = this.#clock.setTimeout(
      () => this.#finish(entry, { status: 'timed_out', afterMs: this.#clock.now() - entry.trackedAt }),
      timeoutMs,
    );
    return entry.handle;
  }

  /**
   * Takes a batch the core is dispatching in this tab. O(events): events
   * without a `mutationId` cost one property read; the others one Map lookup
   * (two for ids not pending, to check for a late echo). The first event
   * carrying a pending id settles it as `visible`; later ones are ignored.
   */
  observe(events: readonly MutationEcho[]): void {
    // Nothing to look for (always so once disposed): skip the batch.
    if (this.#pending.size + this.#timedOutAt.size === 0) return;
    for (const { mutationId: id } of events) {
      // No id, or one no mutation can have (ids are never empty).
      if (!id) continue;
      const entry = this.#pending.get(id);
      if (entry) {
        this.#finish(entry, { status: 'visible', latencyMs: this.#clock.now() - entry.trackedAt });
        continue;
      }
      const trackedAt = this.#timedOutAt.get(id);
      if (trackedAt === undefined) continue;
      // Forgotten at once, so a write that caused several events is late once.
      this.#timedOutAt.delete(id);
      this.#counts.late++;
      this.#call(this.#onLate, id, this.#clock.now() - trackedAt);
    }
  }

  /** The counters, as a plain object. */
  stats(): MutationTrackerStats {
    const counts = this.#counts;
    const verdicts = counts.visible + counts.timedOut;
    // `verdicts &&`: 0 before any verdict.
    return { ...counts, pending: this.#pending.size, timeoutRate: verdicts && counts.timedOut / verdicts };
  }

  /**
   * Cancels every pending mutation (reason `disposed`, reported to
   * `onSettled`), clears their timers and forgets the timed-out ids. The
   * tracker is inert afterwards: `observe` does nothing and `track` returns
   * cancelled mutations. A second call finds nothing left to do.
   */
  dispose(): void {
    this.#disposed = true;
    // `#finish` deletes the entry being visited, which Map iteration allows;
    // nothing is added, as `track` no longer adds.
    for (const entry of this.#pending.values())
      this.#finish(entry, { status: 'cancelled', reason: 'disposed' });
    this.#timedOutAt.clear();
  }

  #createEntry(id: string): Entry {
    let resolveResult!: (outcome: MutationOutcome) => void;
    let resolveVisible!: (value: { latencyMs: number }) => void;
    let resolveTimedOut!: () => void;
    const result = new Promise<MutationOutcome>((resolve) => {
      resolveResult = resolve;
    });
    const visible = new Promise<{ latencyMs: number }>((resolve) => {
      resolveVisible = resolve;
    });
    const timedOut = new Promise<void>((resolve) => {
      resolveTimedOut = resolve;
    });
    const entry: Entry = {
      id,
      trackedAt: this.#clock.now(),
      status: 'pending',
      settle: (outcome) => {
        if (outcome.status === 'visible') resolveVisible({ latencyMs: outcome.latencyMs });
        else if (outcome.status === 'timed_out') resolveTimedOut();
        resolveResult(outcome);
      },
      handle: {
        id,
        result,
        visible,
        timedOut,
        status: () => entry.status,
        // Does nothing once settled: `#finish` checks.
        cancel: () => this.#finish(entry, { status: 'cancelled', reason: 'cancelled' }),
      },
    };
    return entry;
  }

  // The one place a mutation settles, so it settles at most once. Once
  // settled, the entry is dropped, and with it the resolve functions of the
  // promises that never settle.
  #finish(entry: Entry, outcome: MutationOutcome): void {
    if (entry.status !== 'pending') return;
    entry.status = outcome.status;
    entry.settle(outcome);
    // Absent only for a mutation made after dispose(), never tracked.
    if (!this.#pending.delete(entry.id)) return;
    this.#clock.clearTimeout(entry.timer);
    if (outcome.status === 'timed_out') {
      this.#counts.timedOut++;
      // Remembered for late echoes; the oldest forgotten first (at once with
      // maxRemembered 0). Map iteration allows deleting the visited key.
      const timedOutAt = this.#timedOutAt;
      timedOutAt.set(entry.id, entry.trackedAt);
      for (const id of timedOutAt.keys()) {
        if (timedOutAt.size <= this.#maxRemembered) break;
        timedOutAt.delete(id);
      }
    } else {
      this.#counts[outcome.status]++;
    }
    this.#call(this.#onSettled, outcome, entry.id);
  }

  // App callbacks must not break the tracker's bookkeeping or the core's dispatch loop.
  #call<A extends unknown[]>(fn: ((...args: A) => void) | undefined, ...args: A): void {
    try {
      fn?.(...args);
    } catch (error) {
      reportListenerError(error);
    }
  }
}
