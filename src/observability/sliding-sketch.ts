import type { Clock } from '../clock';
import { mergeInto, QuantileSketch } from './quantile-sketch';

/**
 * A quantile sketch of the values added in a sliding time window, e.g. the
 * delivery latency of the last 5 minutes, which the `deliveryP99` alert
 * reads: a ring of `slots` sketches, each holding the values of one
 * `windowMs / slots` interval of `clock`, merged when read.
 *
 * As in the rate windows (`BucketWindow`, sliding-counter.ts), a read covers
 * the current interval and the `slots − 1` before it, so it reaches back
 * between `windowMs − windowMs / slots` and `windowMs`: nothing older than
 * `windowMs` is ever read, and an interval's values drop out together.
 *
 * Memory is bounded whatever the traffic: `slots` sketches of at most
 * `maxBuckets` buckets each (the default settings). An interval's sketch is
 * replaced by an empty one once the ring comes round to it again, never
 * kept. A clock that goes back leaves the ring where it is; the values then
 * go into the newest interval.
 *
 * The ring is its own, not one of the client's windows (those hold a number
 * per interval), and this lazily loaded module imports nothing the core does.
 *
 * @example
 * const recent = new SlidingSketch(300_000, 5, clock);
 * const sketch = recent.current(); // once per batch
 * for (const latency of batch) sketch.add(latency);
 * recent.read().quantile(0.99); // p99 of the last 4 to 5 minutes
 */
export class SlidingSketch {
  readonly #clock: Pick<Clock, 'now'>;
  readonly #slotMs: number;
  readonly #ring: QuantileSketch[];
  /** Interval number (time / slotMs) of the newest slot; -Infinity before the first use. */
  #head = Number.NEGATIVE_INFINITY;

  /**
   * @param windowMs length of the window, ms (> 0; a constant, not checked).
   * @param slots sketches in the ring (an integer ≥ 1); the window's trailing
   * edge moves in steps of `windowMs / slots`.
   */
  constructor(windowMs: number, slots: number, clock: Pick<Clock, 'now'>) {
    this.#clock = clock;
    this.#slotMs = windowMs / slots;
    this.#ring = Array.from({ length: slots }, () => new QuantileSketch());
  }

  /** Sketches held: `slots`, always. */
  get size(): number {
    return this.#ring.length;
  }

  /**
   * The sketch of the current interval, which values added now go into.
   * Take it once per batch and add the batch's values to it: it stays the
   * right one while the clock does not move.
   */
  current(): QuantileSketch {
    const ring = this.#ring;
    const interval = Math.floor(this.#clock.now() / this.#slotMs);
    // False for a clock that went back (and for NaN).
    if (interval > this.#head) {
      // Empties the intervals passed, at most one lap: after a silence of a
      // whole window every slot once. Counted, not only compared: past 2^53
      // (a broken clock) `next++` stops moving and the loop would not end.
      let next = Math.max(this.#head + 1, interval - ring.length + 1);
      for (let lap = 0; next <= interval && lap < ring.length; next++, lap++) {
        const slot = this.#slot(next);
        if (ring[slot]!.count > 0) ring[slot] = new QuantileSketch();
      }
      this.#head = interval;
    }
    return ring[this.#slot(this.#head)]!;
  }

  /** A new sketch of the values of the window ending now (empty when there were none). */
  read(): QuantileSketch {
    this.current();
    const merged = new QuantileSketch();
    for (const sketch of this.#ring) mergeInto(merged, sketch);
    return merged;
  }

  #slot(interval: number): number {
    const size = this.#ring.length;
    // `|| 0`: the head before the first use (or of a broken clock) is not a
    // finite number, and its slot is then the first.
    return ((interval % size) + size) % size || 0;
  }
}
