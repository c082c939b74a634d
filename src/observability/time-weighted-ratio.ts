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
 *
 * It keeps its true-time in a {@link BucketWindow} it is given (the client
 * makes it, as it makes its other windows): this lazily loaded module then
 * imports nothing the core does, and no chunk is shared with the core.
 *
 * @example
 * const open = new TimeWeightedRatio(new SlidingCounter({ windowMs: 3_600_000, clock }));
 * breaker.onStateChange((to) => open.set(to !== 'closed'));
 * open.ratio() * 100; // circuitOpenPercent
 */
export class TimeWeightedRatio {
  /** Time the value was true, per bucket; only its bucket methods are used. */
  readonly #window: BucketWindow;
  #value = false;
  /** Time the watch started; undefined until the first `set`. */
  #startedAt: number | undefined;
  /** Time true-time was accounted up to; meaningful once `#startedAt` is set. */
  #accountedTo = 0;

  constructor(window: BucketWindow) {
    this.#window = window;
  }

  /** The current value (false before the first `set`). */
  get value(): boolean {
    return this.#value;
  }

  /** Records that the boolean is `value` from now on; the watch starts at the first call. */
  set(value: boolean): void {
    const now = this.#window.clock.now();
    // The first call only starts the watch: with nothing to account, `#accrue` just advances.
    if (this.#startedAt === undefined) this.#startedAt = this.#accountedTo = now;
    this.#accrue(now);
    this.#value = value;
  }

  /**
   * Fraction in [0, 1] of the watched part of the window during which the
   * value was true; `undefined` before the first `set` or when no time has
   * passed since it.
   */
  ratio(): number | undefined {
    if (this.#startedAt === undefined) return undefined;
    const window = this.#window;
    const now = Math.max(window.clock.now(), this.#accountedTo);
    this.#accrue(now);
    const windowStart = window.oldestWith(window.bucketOf(now)) * window.bucketMs;
    const watched = now - Math.max(this.#startedAt, windowStart);
    if (!(watched > 0)) return undefined;
    return Math.min(1, Math.max(0, window.sum() / watched));
  }

  /** Forgets the history and the value; the watch restarts at the next `set`. */
  reset(): void {
    this.#window.reset();
    this.#value = false;
    this.#startedAt = undefined;
  }

  /** Books the time since `#accountedTo` into the buckets it fell in, if the value was true. */
  #accrue(now: number): void {
    const window = this.#window;
    const from = this.#accountedTo;
    const head = window.advance(now);
    if (now <= from) return;
    if (this.#value) {
      // Only buckets still in the window matter; older true-time has fallen out.
      for (let bucket = Math.max(window.bucketOf(from), window.oldestWith(head)); bucket <= head; bucket++) {
        const start = Math.max(from, bucket * window.bucketMs);
        const end = Math.min(now, (bucket + 1) * window.bucketMs);
        if (end > start) window.addAt(bucket, end - start);
      }
    }
    this.#accountedTo = now;
  }
}
