import { type Clock, systemClock } from '../clock';
import { assertInteger, assertNumber } from '../util/validate';

/** Options of {@link SlidingCounter} and {@link TimeWeightedRatio}. */
export interface SlidingWindowOptions {
  /** Length of the window, in ms. A finite number ≥ 1. */
  windowMs: number;
  /**
   * Time buckets the window is cut into; memory is one number per bucket and
   * the window's trailing edge moves in steps of `windowMs / buckets`.
   * Integer in [1, 10000]; default 60.
   */
  buckets?: number;
  /** Time source; only `now()` is used. Default {@link systemClock}. */
  clock?: Pick<Clock, 'now'>;
}

/** Default of {@link SlidingWindowOptions.buckets}. */
export const DEFAULT_WINDOW_BUCKETS = 60;

/**
 * @internal The part both windows share: the options, the clock and a ring
 * of per-time-bucket numbers, where bucket `b` holds what happened in
 * `[b·bucketMs, (b+1)·bucketMs)`. The window read is the current bucket and
 * the `buckets − 1` before it, so it reaches back between
 * `windowMs − bucketMs` and `windowMs`: nothing older than `windowMs` is ever
 * counted, and the oldest bucket's worth drops out at once. That errs towards
 * counting too little, so an alert on the figure never fires early.
 */
export class BucketWindow {
  protected readonly clock: Pick<Clock, 'now'>;
  protected readonly bucketMs: number;
  readonly #slots: Float64Array;
  /** Bucket number (time / bucketMs) of the newest slot; undefined before the first use. */
  #head: number | undefined;

  /**
   * @param field how to name the options in error messages (`alerts.dropped`).
   * @throws RangeError naming the field when an option is out of range.
   */
  constructor(options: SlidingWindowOptions, field = 'window') {
    const buckets = options.buckets ?? DEFAULT_WINDOW_BUCKETS;
    assertNumber(`${field}.windowMs`, options.windowMs, 1);
    assertInteger(`${field}.buckets`, buckets, 1, 10_000);
    this.clock = options.clock ?? systemClock;
    this.bucketMs = options.windowMs / buckets;
    this.#slots = new Float64Array(buckets);
  }

  /** Forgets every event. */
  reset(): void {
    this.#slots.fill(0);
    this.#head = undefined;
  }

  /** The bucket number of the oldest bucket in the window whose newest is `bucket`. */
  protected oldestWith(bucket: number): number {
    return bucket - this.#slots.length + 1;
  }

  protected bucketOf(time: number): number {
    return Math.floor(time / this.bucketMs);
  }

  /**
   * Moves the newest slot to the bucket of `time`, zeroing the slots it
   * passes; returns the (possibly unchanged) newest bucket. A clock that goes
   * back leaves the ring where it is: the monotonic clock should never, and a
   * bucket must not be reused for an older time.
   */
  protected advance(time: number): number {
    const bucket = this.bucketOf(time);
    if (this.#head === undefined || bucket - this.#head >= this.#slots.length) {
      this.#slots.fill(0);
      this.#head = bucket;
    } else {
      for (let next = this.#head + 1; next <= bucket; next++) this.#slots[this.#slot(next)] = 0;
      if (bucket > this.#head) this.#head = bucket;
    }
    return this.#head;
  }

  /** Adds to bucket `bucket`, which must be within the window behind the newest. */
  protected addAt(bucket: number, amount: number): void {
    const slot = this.#slot(bucket);
    this.#slots[slot] = (this.#slots[slot] ?? 0) + amount;
  }

  /** The sum over the window, as of the last `advance`. */
  protected sum(): number {
    let total = 0;
    for (const value of this.#slots) total += value;
    return total;
  }

  #slot(bucket: number): number {
    const size = this.#slots.length;
    return ((bucket % size) + size) % size;
  }
}

/**
 * Counts events in a sliding time window with bounded memory, e.g. leader
 * elections in the last hour or dropped events in the last 5 minutes.
 * See the window's exact reach in the {@link BucketWindow} comment: it is at
 * least `windowMs − windowMs / buckets` and at most `windowMs`.
 *
 * @example
 * const elections = new SlidingCounter({ windowMs: 3_600_000, clock });
 * elections.add();
 * elections.total(); // elections in the last hour
 */
export class SlidingCounter extends BucketWindow {
  /**
   * Records `count` events now (default 1). A non-finite or negative count is
   * ignored rather than thrown: a counter on the event path must not break it.
   */
  add(count = 1): void {
    if (!(count >= 0) || !Number.isFinite(count)) return;
    this.addAt(this.advance(this.clock.now()), count);
  }

  /** Events in the window ending now. */
  total(): number {
    this.advance(this.clock.now());
    return this.sum();
  }
}

/**
 * The fraction of time a boolean was true over a sliding window, weighted by
 * time rather than sampled — e.g. `circuitOpenPercent`: a circuit open for
 * 3 s between two one-minute samples still counts its 3 s, and one that
 * flapped open and shut between samples is not missed.
 *
 * The denominator is the part of the window the ratio has actually watched
 * (from the first `set`, or the window's reach, whichever is later), so a tab
 * open for two minutes with the circuit open for one reads 0.5, not 1/60.
 *
 * @example
 * const open = new TimeWeightedRatio({ windowMs: 3_600_000, clock });
 * breaker.onStateChange(({ to }) => open.set(to !== 'closed'));
 * open.ratio() * 100; // circuitOpenPercent
 */
export class TimeWeightedRatio extends BucketWindow {
  #value = false;
  /** Time the watch started; undefined until the first `set`. */
  #startedAt: number | undefined;
  /** Time true-time was accounted up to; meaningful once `#startedAt` is set. */
  #accountedTo = 0;

  /** The current value (false before the first `set`). */
  get value(): boolean {
    return this.#value;
  }

  /** Records that the boolean is `value` from now on; the watch starts at the first call. */
  set(value: boolean): void {
    const now = this.clock.now();
    if (this.#startedAt === undefined) {
      this.#startedAt = now;
      this.#accountedTo = now;
      this.advance(now);
    } else {
      this.#accrue(now);
    }
    this.#value = value;
  }

  /**
   * Fraction in [0, 1] of the watched part of the window during which the
   * value was true; `undefined` before the first `set` or when no time has
   * passed since it.
   */
  ratio(): number | undefined {
    if (this.#startedAt === undefined) return undefined;
    const now = Math.max(this.clock.now(), this.#accountedTo);
    this.#accrue(now);
    const windowStart = this.oldestWith(this.bucketOf(now)) * this.bucketMs;
    const watched = now - Math.max(this.#startedAt, windowStart);
    if (!(watched > 0)) return undefined;
    return Math.min(1, Math.max(0, this.sum() / watched));
  }

  /** Forgets the history and the value; the watch restarts at the next `set`. */
  override reset(): void {
    super.reset();
    this.#value = false;
    this.#startedAt = undefined;
  }

  /** Books the time since `#accountedTo` into the buckets it fell in, if the value was true. */
  #accrue(now: number): void {
    const from = this.#accountedTo;
    const head = this.advance(now);
    if (now <= from) return;
    if (this.#value) {
      // Only buckets still in the window matter; older true-time has fallen out.
      for (let bucket = Math.max(this.bucketOf(from), this.oldestWith(head)); bucket <= head; bucket++) {
        const start = Math.max(from, bucket * this.bucketMs);
        const end = Math.min(now, (bucket + 1) * this.bucketMs);
        if (end > start) this.addAt(bucket, end - start);
      }
    }
    this.#accountedTo = now;
  }
}
