import type { Clock } from '../clock';

/** Options of {@link SlidingCounter} and {@link TimeWeightedRatio}. */
export interface SlidingWindowOptions {
  /**
   * Length of the window, in ms. A finite number ≥ 1: not checked here, as
   * the windows are internal and every length is a constant or an option
   * checked once where it entered (`rollback.windowMs`).
   */
  windowMs: number;
  /**
   * Time buckets the window is cut into; memory is one number per bucket and
   * the window's trailing edge moves in steps of `windowMs / buckets`.
   * Integer in [1, 10000]; default 60.
   */
  buckets?: number;
  /** Time source; only `now()` is used. */
  clock: Pick<Clock, 'now'>;
}

/**
 * Counts events in a sliding time window with bounded memory, e.g. leader
 * elections in the last hour or dropped events in the last 5 minutes.
 *
 * A ring of per-time-bucket numbers, where bucket `b` holds what happened in
 * `[b·bucketMs, (b+1)·bucketMs)`. The window read is the current bucket and
 * the `buckets − 1` before it, so it reaches back between
 * `windowMs − bucketMs` and `windowMs`: nothing older than `windowMs` is ever
 * counted, and the oldest bucket's worth drops out at once. That errs towards
 * counting too little, so an alert on the figure never fires early. The
 * lazily loaded TimeWeightedRatio books time into two of these through the
 * bucket methods (`advance`, `addAt`, `sum`) rather than `add`/`total`.
 *
 * @example
 * const elections = new SlidingCounter({ windowMs: 3_600_000, clock });
 * elections.add();
 * elections.total(); // elections in the last hour
 */
export class SlidingCounter {
  // Declared only: the constructor sets them (no field initialisers to emit).
  declare readonly clock: Pick<Clock, 'now'>;
  declare readonly bucketMs: number;
  readonly #slots: Float64Array;
  /** Bucket number (time / bucketMs) of the newest slot; -Infinity before the first use. */
  #head = -Infinity;

  constructor({ windowMs, buckets = 60, clock }: SlidingWindowOptions) {
    this.clock = clock;
    this.bucketMs = windowMs / buckets;
    this.#slots = new Float64Array(buckets);
  }

  /** Forgets every event (the next `advance` zeroes the whole ring). */
  reset(): void {
    this.#head = -Infinity;
  }

  /** The bucket number of the oldest bucket in the window whose newest is `bucket`. */
  oldestWith(bucket: number): number {
    return bucket - this.#slots.length + 1;
  }

  bucketOf(time: number): number {
    return Math.floor(time / this.bucketMs);
  }

  /**
   * Moves the newest slot to the bucket of `time`, zeroing the slots it
   * passes; returns the (possibly unchanged) newest bucket. A clock that goes
   * back leaves the ring where it is: the monotonic clock should never, and a
   * bucket must not be reused for an older time.
   */
  advance(time: number): number {
    const bucket = this.bucketOf(time);
    // At most one lap: after a silence of a whole window (or a reset) every
    // slot is zeroed once. Counted, not only compared: past 2^53 (a broken
    // clock, Infinity) `next++` stops moving and the loop would never end.
    let next = Math.max(this.#head + 1, this.oldestWith(bucket));
    for (let laps = this.#slots.length; next <= bucket && laps--; next++) {
      this.#slots[this.#slot(next)] = 0;
    }
    this.#head = Math.max(this.#head, bucket);
    return this.#head;
  }

  /** Adds to bucket `bucket`, which must be within the window behind the newest. */
  addAt(bucket: number, amount: number): void {
    this.#slots[this.#slot(bucket)]! += amount;
  }

  /** The sum over the window, as of the last `advance`. */
  sum(): number {
    // Never empty: there is at least one bucket.
    return this.#slots.reduce((total, value) => total + value);
  }

  #slot(bucket: number): number {
    const size = this.#slots.length;
    return ((bucket % size) + size) % size;
  }

  /**
   * Records `count` events now (default 1). A non-finite or negative count is
   * ignored rather than thrown: a counter on the event path must not break it.
   */
  add(count = 1): void {
    // Neither NaN nor ±Infinity passes.
    if (count >= 0 && count < Infinity) this.addAt(this.advance(this.clock.now()), count);
  }

  /** Events in the window ending now. */
  total(): number {
    this.advance(this.clock.now());
    return this.sum();
  }
}

/** @internal The window as TimeWeightedRatio sees it (it books time through the bucket methods). */
export type BucketWindow = SlidingCounter;
