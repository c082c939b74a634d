import { type Clock, systemClock } from '../clock';
import { reportListenerError } from '../util/emitter';
import { MAX_TIMER_DELAY_MS } from '../util/timers';
import { assertFunction, assertInteger, assertNumber } from '../util/validate';
import {
  type MutationEcho,
  type MutationOutcome,
  type PendingMutation,
  PendingMutations,
  type TrackedMutation,
  type TrackOptions,
  trackOne,
  trackTimeout,
} from './tracked-mutation';

export type {
  MutationCancelReason,
  MutationEcho,
  MutationOutcome,
  MutationStatus,
  TrackedMutation,
  TrackOptions,
} from './tracked-mutation';

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

/**
 * Watches optimistic mutations until the realtime stream shows them.
 *
 * The standalone form, with option checks, late-echo detection and
 * counters. The client's `trackMutation` does not load it: its core tracks
 * with {@link PendingMutations} (the same mutations, eviction and echo
 * matching, which this class builds on) and feeds the SLIs itself.
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
  readonly #maxRemembered: number;
  readonly #clock: Clock;
  readonly #onSettled: MutationTrackerOptions['onSettled'];
  readonly #onLate: MutationTrackerOptions['onLate'];
  readonly #pending: PendingMutations;
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
    this.#maxRemembered = maxRemembered;
    this.#clock = options.clock ?? systemClock;
    this.#onSettled = options.onSettled;
    this.#onLate = options.onLate;
    this.#pending = new PendingMutations(this.#clock, maxPending, (outcome, mutation) =>
      this.#settled(outcome, mutation),
    );
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
    const timeoutMs = trackTimeout(mutationId, options, this.#defaultTimeoutMs);
    if (this.#disposed) {
      // Never tracked, so neither counted nor reported: the tracker's
      // numbers ended with its life.
      const mutation = trackOne(mutationId, timeoutMs, this.#clock, () => {});
      mutation.settle({ status: 'cancelled', reason: 'disposed' });
      return mutation.handle;
    }
    const fresh = !this.#pending.has(mutationId);
    // A new tracking supersedes a timed-out one of the same id.
    if (fresh) this.#timedOutAt.delete(mutationId);
    const handle = this.#pending.track(mutationId, timeoutMs);
    // Counted once in, after any eviction it caused, so `stats().pending` is never ahead.
    if (fresh) this.#counts.tracked++;
    return handle;
  }

  /**
   * Takes a batch the core is dispatching in this tab. O(events): events
   * without a `mutationId` cost one property read; the others one Map lookup
   * (two when timed-out ids are remembered, to check for a late echo). The
   * first event carrying a pending id settles it as `visible`; later ones
   * are ignored.
   */
  observe(events: readonly MutationEcho[]): void {
    // Late echoes are looked for only while timed-out ids are remembered (never once disposed).
    this.#pending.observe(events, this.#timedOutAt.size > 0 ? (id) => this.#late(id) : undefined);
  }

  /** The counters, as a plain object. */
  stats(): MutationTrackerStats {
    const counts = this.#counts;
    const verdicts = counts.visible + counts.timedOut;
    return {
      ...counts,
      // Every mutation tracked is pending until it lands in exactly one of these.
      pending: counts.tracked - verdicts - counts.cancelled,
      // `verdicts &&`: 0 before any verdict.
      timeoutRate: verdicts && counts.timedOut / verdicts,
    };
  }

  /**
   * Cancels every pending mutation (reason `disposed`, reported to
   * `onSettled`), clears their timers and forgets the timed-out ids. The
   * tracker is inert afterwards: `observe` does nothing and `track` returns
   * cancelled mutations. A second call finds nothing left to do.
   */
  dispose(): void {
    this.#disposed = true;
    this.#pending.dispose();
    this.#timedOutAt.clear();
  }

  // An echo of an id not pending: late if that id timed out.
  #late(id: string): void {
    const trackedAt = this.#timedOutAt.get(id);
    if (trackedAt === undefined) return;
    // Forgotten at once, so a write that caused several events is late once.
    this.#timedOutAt.delete(id);
    this.#counts.late++;
    this.#call(this.#onLate, id, this.#clock.now() - trackedAt);
  }

  // Every mutation's bookkeeping once it settled; it has left the pending set.
  #settled(outcome: MutationOutcome, mutation: PendingMutation): void {
    if (outcome.status === 'timed_out') {
      this.#counts.timedOut++;
      // Remembered for late echoes; the oldest forgotten first (at once with
      // maxRemembered 0). Map iteration allows deleting the visited key.
      const timedOutAt = this.#timedOutAt;
      timedOutAt.set(mutation.id, mutation.trackedAt);
      for (const id of timedOutAt.keys()) {
        if (timedOutAt.size <= this.#maxRemembered) break;
        timedOutAt.delete(id);
      }
    } else {
      this.#counts[outcome.status]++;
    }
    this.#call(this.#onSettled, outcome, mutation.id);
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
