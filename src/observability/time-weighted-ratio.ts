import type { BucketWindow } from './sliding-counter';

/**
 * The fraction of time a boolean was true over a sliding window, weighted by
 * time rather than sampled — e.g. `circuitOpenPercent`: a circuit open for
 * 3 s between two one-minute samples still counts its 3 s, and one that
 * flapped open and shut between samples is not missed.
 *
 * The denominator is the part of the window the ratio has actually watched
 * (from the first `set`, or the window's reach, whichever is later), so a tab
 * open for two minutes with the circuit open for one reads 0.5, not 1/60.
 * With `unseenAfterMs`, more than that between two calls (`set` or `ratio`)
 * was not watched: a page asleep or frozen (a laptop's lid closed) leaves its
 * time out of both the true-time and the watched time, as the rollback guard
 * does; counted, a circuit open as the lid closed read ~100 % after hours
 * asleep. The owner then calls `ratio` more often than that.
 *
 * It keeps its true-time and its watched time in two {@link BucketWindow}s it
 * is given (the client makes them, as it makes its other windows): this
 * lazily loaded module then imports nothing the core does, and no chunk is
 * shared with the core.
 *
 * @example
 * const hour = () => new SlidingCounter({ windowMs: 3_600_000, clock });
 * const open = new TimeWeightedRatio(hour(), hour(), 120_000);
 * breaker.onStateChange((to) => open.set(to !== 'closed'));
 * open.ratio() * 100; // circuitOpenPercent
 */
export class TimeWeightedRatio {
  /** Time the value was true, per bucket; only its bucket methods are used. */
  readonly #true: BucketWindow;
  /** Time watched, per bucket, on the same buckets. */
  readonly #watched: BucketWindow;
  readonly #unseenAfterMs: number;
  #value = false;
  /** Time true-time was accounted up to; undefined until the first `set`. */
  #accountedTo: number | undefined;

  constructor(trueWindow: BucketWindow, watchedWindow: BucketWindow, unseenAfterMs = Infinity) {
    this.#true = trueWindow;
    this.#watched = watchedWindow;
    this.#unseenAfterMs = unseenAfterMs;
  }

  /** The current value (false before the first `set`). */
  get value(): boolean {
    return this.#value;
  }

  /** Records that the boolean is `value` from now on; the watch starts at the first call. */
  set(value: boolean): void {
    this.#accrue();
    this.#value = value;
  }

  /**
   * Fraction in [0, 1] of the watched part of the window during which the
   * value was true; `undefined` before the first `set` or when no time was
   * watched since it.
   */
  ratio(): number | undefined {
    if (this.#accountedTo === undefined) return undefined;
    this.#accrue();
    const watched = this.#watched.sum();
    if (!(watched > 0)) return undefined;
    return Math.min(1, Math.max(0, this.#true.sum() / watched));
  }

  /** Forgets the history and the value; the watch restarts at the next `set`. */
  reset(): void {
    this.#true.reset();
    this.#watched.reset();
    this.#value = false;
    this.#accountedTo = undefined;
  }

  /** Books the time since `#accountedTo` (the first call: none) as watched, and as true if it was. */
  #accrue(): void {
    const now = this.#true.clock.now();
    const last = this.#accountedTo ?? now;
    // Unseen: booked from now on, as if the watch began anew (both windows still advance).
    const from = now - last > this.#unseenAfterMs ? now : last;
    book(this.#watched, from, now);
    book(this.#true, this.#value ? from : now, now);
    // A clock that went back keeps what was accounted.
    this.#accountedTo = Math.max(last, now);
  }
}

/** Adds `[from, now)` to the buckets it fell in; advances the window to `now` in any case. */
function book(window: BucketWindow, from: number, now: number): void {
  const head = window.advance(now);
  if (now <= from) return;
  // Only buckets still in the window matter; older time has fallen out.
  for (let bucket = Math.max(window.bucketOf(from), window.oldestWith(head)); bucket <= head; bucket++) {
    const start = Math.max(from, bucket * window.bucketMs);
    const end = Math.min(now, (bucket + 1) * window.bucketMs);
    if (end > start) window.addAt(bucket, end - start);
  }
}
