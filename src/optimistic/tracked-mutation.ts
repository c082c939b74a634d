import type { Clock } from '../clock';
import { MAX_TIMER_DELAY_MS } from '../util/timers';
import { assertInteger, assertObject } from '../util/validate';
import { assertMutationId } from './mutation-header';

// What the client needs to track optimistic mutations: one mutation (its
// handle, promises and timeout) and the bounded set of pending ones.

/** Where a tracked mutation stands. Every state but `pending` is final. */
export type MutationStatus = 'pending' | 'visible' | 'timed_out' | 'cancelled';

/**
 * Why a mutation was cancelled: the app called `cancel()`; the pending set
 * was full and this was the oldest entry; or the tracker (the client) was
 * disposed (closed).
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

/** Options of `trackMutation`. */
export interface TrackOptions {
  /** Milliseconds to wait for the echo. Default: the tracker's `defaultTimeoutMs`. */
  timeoutMs?: number;
}

/** A mutation of {@link trackOne}: its handle, and what its owner does with it. */
export interface PendingMutation {
  /** Its handle, which also names it (`handle.id`). */
  readonly handle: TrackedMutation;
  /**
   * Cancels it for `reason` if still pending (later calls do nothing): stops
   * its timer, resolves its `result` and tells its owner.
   */
  cancel(reason: MutationCancelReason): void;
  /** Its echo was dispatched now: settles it `visible`, with the latency since tracking. */
  echoed(): void;
}

/**
 * Returns the timeout of a `track` call, having checked its arguments in the
 * default build; the `production` build trusts them (docs/options.md).
 *
 * @throws RangeError when `mutationId` or `timeoutMs` is invalid (default build).
 */
export function trackTimeout(mutationId: string, options: TrackOptions, defaultTimeoutMs: number): number {
  // Only a mistake in the app's code fails these (ids come from
  // newMutationId): development-only, inline so bundlers drop it.
  if (process.env.NODE_ENV !== 'production') {
    assertMutationId('mutationId', mutationId);
    assertObject('options', options);
  }
  const timeoutMs = options.timeoutMs ?? defaultTimeoutMs;
  // Whole ms, as the `optimistic.timeoutMs` option and every other duration.
  if (process.env.NODE_ENV !== 'production') assertInteger('timeoutMs', timeoutMs, 1, MAX_TIMER_DELAY_MS);
  return timeoutMs;
}

/**
 * Starts one mutation now: pending, timing out after `timeoutMs` on `clock`.
 * `done` is told once, when it settles, after its promises are resolved.
 */
export function trackOne(
  id: string,
  timeoutMs: number,
  clock: Clock,
  done: (mutation: PendingMutation, outcome: MutationOutcome) => void,
): PendingMutation {
  // Set once, as it settles: its status from then on.
  let outcome: MutationOutcome | undefined;
  // Each set by its promise's executor, which runs at once.
  let resolveResult!: (outcome: MutationOutcome) => void;
  let resolveVisible!: (value: { latencyMs: number }) => void;
  let resolveTimedOut!: () => void;
  const trackedAt = clock.now();
  const timer = clock.setTimeout(
    () => settle({ status: 'timed_out', afterMs: clock.now() - trackedAt }, resolveTimedOut),
    timeoutMs,
  );
  // The one place a mutation settles, so it settles at most once; `resolveOwn`
  // resolves the promise of its own outcome (`visible`, `timedOut`), if any.
  const settle = (settled: MutationOutcome, resolveOwn?: () => void): void => {
    if (outcome) return;
    outcome = settled;
    clock.clearTimeout(timer);
    resolveOwn?.();
    resolveResult(settled);
    done(mutation, settled);
  };
  const cancel = (reason: MutationCancelReason) => settle({ status: 'cancelled', reason });
  const mutation: PendingMutation = {
    handle: {
      id,
      result: new Promise((resolve) => {
        resolveResult = resolve;
      }),
      visible: new Promise((resolve) => {
        resolveVisible = resolve;
      }),
      timedOut: new Promise((resolve) => {
        resolveTimedOut = resolve;
      }),
      status: () => outcome?.status ?? 'pending',
      cancel: () => cancel('cancelled'),
    },
    cancel,
    echoed() {
      const latencyMs = clock.now() - trackedAt;
      settle({ status: 'visible', latencyMs }, () => resolveVisible({ latencyMs }));
    },
  };
  return mutation;
}

/** What {@link PendingMutations.observe} needs of an event: only its `mutationId`. */
export interface MutationEcho {
  readonly mutationId?: string | undefined;
}

/**
 * The pending mutations of one client:
 * one per id, at most `maxPending` (one more cancels the oldest, reason
 * `evicted`), each dropped as it settles.
 */
export class PendingMutations {
  // Insertion order is tracking order, so the first key is the oldest.
  // Invariant: a mutation is in here exactly while it is pending.
  readonly #pending = new Map<string, PendingMutation>();
  readonly #clock: Clock;
  readonly #maxPending: number;
  readonly #onSettled: (outcome: MutationOutcome, mutation: PendingMutation) => void;

  constructor(
    clock: Clock,
    maxPending: number,
    onSettled: (outcome: MutationOutcome, mutation: PendingMutation) => void,
  ) {
    this.#clock = clock;
    this.#maxPending = maxPending;
    this.#onSettled = onSettled;
  }

  /** The pending mutation of `id`, or a new one timing out after `timeoutMs`. */
  track(id: string, timeoutMs: number): TrackedMutation {
    const pending = this.#pending;
    let mutation = pending.get(id);
    if (!mutation) {
      // Never more than `maxPending` (≥ 1) are pending: one out makes room
      // (its owner's `onSettled`, the client's SLI figures, tracks none).
      if (pending.size >= this.#maxPending) pending.values().next().value!.cancel('evicted');
      // While this one is pending, no other mutation of `id` is tracked.
      mutation = trackOne(id, timeoutMs, this.#clock, (settled, outcome) => {
        pending.delete(id);
        this.#onSettled(outcome, settled);
      });
      pending.set(id, mutation);
    }
    return mutation.handle;
  }

  /** Settles as `visible` every pending mutation an event of `events` echoes. */
  observe(events: readonly MutationEcho[]): void {
    // No id, or one no mutation has (ids are never empty), finds nothing.
    for (const { mutationId } of events) this.#pending.get(mutationId!)?.echoed();
  }

  /** Cancels every pending mutation (reason `disposed`). */
  dispose(): void {
    for (const mutation of this.#pending.values()) mutation.cancel('disposed');
  }
}
