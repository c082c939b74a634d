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
   * Settles it if still pending (later calls do nothing): stops its timer,
   * resolves the handle's promises and tells its owner.
   */
  settle(outcome: MutationOutcome): void;
  /** Its echo was dispatched now: settles it `visible`, with the latency since tracking. */
  echoed(): void;
}

/**
 * Checks the arguments of a `track` call and returns its timeout.
 *
 * @throws RangeError when `mutationId` or `timeoutMs` is invalid.
 */
export function trackTimeout(mutationId: string, options: TrackOptions, defaultTimeoutMs: number): number {
  assertMutationId('mutationId', mutationId);
  assertObject('options', options);
  const timeoutMs = options.timeoutMs ?? defaultTimeoutMs;
  // Whole ms, as the `optimistic.timeoutMs` option and every other duration.
  assertInteger('timeoutMs', timeoutMs, 1, MAX_TIMER_DELAY_MS);
  return timeoutMs;
}

/** A promise and the function that resolves it. */
function deferred<T>(): [Promise<T>, (value: T) => void] {
  let resolve!: (value: T) => void;
  // The executor runs at once, so `resolve` is set before the array is made.
  return [
    new Promise<T>((r) => {
      resolve = r;
    }),
    resolve,
  ];
}

/** The outcome of a mutation cancelled for `reason`. */
const cancelled = (reason: MutationCancelReason): MutationOutcome => ({ status: 'cancelled', reason });

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
  let status: MutationStatus = 'pending';
  const [result, resolveResult] = deferred<MutationOutcome>();
  const [visible, resolveVisible] = deferred<{ latencyMs: number }>();
  const [timedOut, resolveTimedOut] = deferred<void>();
  const trackedAt = clock.now();
  const since = () => clock.now() - trackedAt;
  const timer = clock.setTimeout(() => mutation.settle({ status: 'timed_out', afterMs: since() }), timeoutMs);
  const mutation: PendingMutation = {
    handle: {
      id,
      result,
      visible,
      timedOut,
      status: () => status,
      cancel: () => mutation.settle(cancelled('cancelled')),
    },
    // The one place a mutation settles, so it settles at most once.
    settle(outcome) {
      if (status !== 'pending') return;
      status = outcome.status;
      clock.clearTimeout(timer);
      if (outcome.status === 'visible') resolveVisible({ latencyMs: outcome.latencyMs });
      else if (outcome.status === 'timed_out') resolveTimedOut();
      resolveResult(outcome);
      done(mutation, outcome);
    },
    echoed: () => mutation.settle({ status: 'visible', latencyMs: since() }),
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
      for (const oldest of pending.values()) {
        if (pending.size < this.#maxPending) break;
        oldest.settle(cancelled('evicted'));
      }
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
    for (const mutation of this.#pending.values()) mutation.settle(cancelled('disposed'));
  }
}
