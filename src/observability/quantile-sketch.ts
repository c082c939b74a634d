/** Options of {@link QuantileSketch}. */
export interface QuantileSketchOptions {
  /**
   * Relative accuracy α: every quantile read back is within `α` of the true
   * value at that rank, relatively (`|estimate − true| ≤ α · true`). A number
   * in (0, 0.5]; default 0.01, i.e. 1 %, half the 2 % the SLIs promise, so
   * floating-point rounding at bucket edges never eats the margin.
   */
  relativeAccuracy?: number;
  /**
   * Values below this (ms) share one zero bucket and read back as 0: a
   * latency under a microsecond is noise, and without a floor a value near 0
   * would need unboundedly many log buckets. A finite number > 0; default
   * 1e-3.
   */
  minValue?: number;
  /**
   * Most log buckets kept. When the values span more, the lowest buckets are
   * collapsed into one (see {@link QuantileSketch}). Integer in
   * [2, 65536]; default 2048 (with α = 0.01 that is about 18 decades, so
   * 1e-3 ms to 1e15 ms never collapses).
   */
  maxBuckets?: number;
}

/** Defaults of {@link QuantileSketchOptions}. */
export const DEFAULT_QUANTILE_SKETCH = { relativeAccuracy: 0.01, minValue: 1e-3, maxBuckets: 2048 } as const;

/**
 * The compact serialised form of a {@link QuantileSketch} (for the telemetry
 * payload): the settings, the exact count-free summary, and the bucket counts
 * as one dense array starting at bucket index `startIndex`. The total count is
 * not stored: it is `zeroCount` plus the sum of `counts`, so it cannot
 * disagree with them.
 */
export interface QuantileSketchJSON {
  relativeAccuracy: number;
  minValue: number;
  maxBuckets: number;
  /** Sum of all values added (0 when empty). */
  sum: number;
  /** Smallest value added (0 when empty). */
  min: number;
  /** Largest value added (0 when empty). */
  max: number;
  /** Values below `minValue`. */
  zeroCount: number;
  /** Bucket index of `counts[0]`. */
  startIndex: number;
  /** Counts of consecutive buckets from `startIndex`; integers ≥ 0. */
  counts: number[];
}

/** Where the first array sits in the index space before any value decides it. */
const INITIAL_CAPACITY = 64;
/** @internal Upper bound of `maxBuckets`; shared with sketch-codec.ts. */
export const MAX_MAX_BUCKETS = 65_536;

/** Smallest `relativeAccuracy` a sketch accepts. */
export const MIN_RELATIVE_ACCURACY = 1e-6;

/**
 * A DDSketch-style quantile sketch for latencies: bounded memory, a relative
 * error bound that holds at every quantile, mergeable across tabs and time
 * ({@link mergeInto} below; `mergeSketch`, which checks the settings, and
 * `sketchFromJSON` live in sketch-codec.ts, so that only the code that needs
 * them loads them).
 *
 * A value `x ≥ minValue` goes to the log bucket `i = ⌈log_γ x⌉` with
 * `γ = (1 + α) / (1 − α)`, which holds `(γ^(i−1), γ^i]`; the bucket reads back
 * as `2γ^i / (γ + 1)`, within `α` of anything in it. A quantile is the bucket
 * holding the value of rank `⌊q · (n − 1)⌋` among the sorted values, so its
 * error is that bucket's, whatever the distribution. Rank 0 and rank `n − 1`
 * read back `min` and `max` exactly, and every estimate is clamped into
 * `[min, max]` (which only ever moves it closer to the true value).
 *
 * Memory: the counts live in one `Float64Array` that grows by doubling up to
 * `maxBuckets`. If the values span more than `maxBuckets` buckets, the lowest
 * ones are collapsed into one: from then on low quantiles (those that fall in
 * the collapsed bucket) may be far too high, while high quantiles — the ones
 * SLOs and alerts read (p95, p99, p99.9) — keep their accuracy.
 * {@link QuantileSketch.collapsed} tells whether that happened.
 *
 * Negative values (a server timestamp ahead of the local clock) count as 0;
 * `NaN` and `±Infinity` are ignored (`add` returns `false`), because a broken
 * measurement must never throw into the delivery path.
 *
 * @example
 * const sketch = new QuantileSketch();
 * sketch.add(receivedAt - event.ts);
 * sketch.quantile(0.99); // ms, or undefined while empty
 */
export class QuantileSketch {
  readonly #relativeAccuracy: number;
  readonly #minValue: number;
  readonly #maxBuckets: number;
  readonly #logGamma: number;
  // Multiplying by the inverse is cheaper than dividing on every add.
  readonly #invLogGamma: number;
  // 2 / (γ + 1): bucket i reads back as γ^i · this.
  readonly #midFactor: number;

  #bins = new Float64Array(0);
  /** Bucket index of `#bins[0]`. */
  #offset = 0;
  /**
   * Lowest and highest bucket index that may hold counts; every count is in
   * [#lo, #hi]. While `#binTotal` is 0 they are 0 and -1 (an empty span).
   */
  #lo = 0;
  #hi = -1;
  #binTotal = 0;
  #zeroCount = 0;
  #sum = 0;
  #min = Number.POSITIVE_INFINITY;
  #max = Number.NEGATIVE_INFINITY;
  #collapsed = false;

  /**
   * The settings are trusted: the collector uses the defaults, and
   * `sketchFromJSON` (sketch-codec.ts) checks those of a sketch that came
   * over a wire before it builds one. This module imports nothing, so the
   * lazily loaded SLI code shares no chunk with the core.
   */
  constructor(options: QuantileSketchOptions = {}) {
    const relativeAccuracy = options.relativeAccuracy ?? DEFAULT_QUANTILE_SKETCH.relativeAccuracy;
    const minValue = options.minValue ?? DEFAULT_QUANTILE_SKETCH.minValue;
    const maxBuckets = options.maxBuckets ?? DEFAULT_QUANTILE_SKETCH.maxBuckets;
    this.#relativeAccuracy = relativeAccuracy;
    this.#minValue = minValue;
    this.#maxBuckets = maxBuckets;
    const gamma = (1 + relativeAccuracy) / (1 - relativeAccuracy);
    this.#logGamma = Math.log(gamma);
    this.#invLogGamma = 1 / this.#logGamma;
    this.#midFactor = 2 / (gamma + 1);
  }

  /** Values added (with their counts). */
  get count(): number {
    // Kept as two parts only, so the total can never disagree with them.
    return this.#zeroCount + this.#binTotal;
  }

  /** Sum of the values added (negatives counted as 0); 0 when empty. */
  get sum(): number {
    return this.#sum;
  }

  /** Smallest value added, exact; `undefined` when empty. */
  get min(): number | undefined {
    return this.count === 0 ? undefined : this.#min;
  }

  /** Largest value added, exact; `undefined` when empty. */
  get max(): number | undefined {
    return this.count === 0 ? undefined : this.#max;
  }

  /** The α this sketch guarantees (see {@link QuantileSketchOptions.relativeAccuracy}). */
  get relativeAccuracy(): number {
    return this.#relativeAccuracy;
  }

  /** Log buckets spanned from the lowest to the highest non-empty one (≤ `maxBuckets`). */
  get bucketCount(): number {
    // 0 while empty: the span is then [0, -1].
    return this.#hi - this.#lo + 1;
  }

  /** Whether low buckets were ever collapsed, so low quantiles may be too high. */
  get collapsed(): boolean {
    return this.#collapsed;
  }

  /**
   * Adds `value` `count` times. Allocation-free except when the values reach
   * a bucket range not seen before (the array is then reallocated once,
   * grown or shifted).
   *
   * @returns `false` (and records nothing) for `NaN` or `±Infinity`.
   * @throws RangeError when `count` is not an integer ≥ 1 — a caller's bug, not data.
   */
  add(value: number, count = 1): boolean {
    if (count !== 1 && !(Number.isSafeInteger(count) && count > 0)) {
      throw new RangeError(`count must be an integer ≥ 1, got ${String(count)}`);
    }
    if (!Number.isFinite(value)) return false;
    const v = Math.max(value, 0);
    // Saturated, never Infinity: JSON would write that as null, and every
    // later report of the session would fail its schema (huge latencies come
    // from hostile timestamps, which are finite and so accepted).
    this.#sum = Math.min(this.#sum + v * count, Number.MAX_VALUE);
    if (v < this.#min) this.#min = v;
    if (v > this.#max) this.#max = v;
    if (v < this.#minValue) this.#zeroCount += count;
    else this.#addToBucket(this.#indexOf(v), count);
    return true;
  }

  /**
   * The value at rank `⌊q · (count − 1)⌋` of the sorted values, within the
   * relative accuracy (see the class comment for collapsed low buckets);
   * `undefined` when empty.
   *
   * @throws RangeError when `q` is not in [0, 1].
   */
  quantile(q: number): number | undefined {
    if (!(q >= 0 && q <= 1)) throw new RangeError(`q must be a number ≥ 0 and ≤ 1, got ${String(q)}`);
    const count = this.count;
    if (count === 0) return undefined;
    const rank = Math.floor(q * (count - 1));
    if (rank === 0) return this.#min;
    if (rank >= count - 1) return this.#max;
    let seen = this.#zeroCount;
    // The zero bucket reads back as 0, clamped into [min, max]: min (≥ 0;
    // `+ 0` turns a -0 read from a hand-made JSON object into 0).
    if (rank < seen) return this.#min + 0;
    for (let index = this.#lo; index <= this.#hi; index++) {
      seen += this.#countAt(index);
      if (rank < seen) {
        return Math.min(Math.max(Math.exp(index * this.#logGamma) * this.#midFactor, this.#min), this.#max);
      }
    }
    return this.#max;
  }

  /**
   * @internal For the readers and mergers of sketches (sketch-codec.ts,
   * {@link mergeInto}, telemetry-encode.ts), which check and combine
   * everything: adds `counts[i]` to bucket `startIndex + i` and `zeroCount`
   * to the zero bucket, then sets the exact summary (the count follows from
   * the zero bucket and the others) and marks the sketch collapsed if
   * `collapsed`.
   */
  _load(
    startIndex: number,
    counts: readonly number[],
    zeroCount: number,
    sum: number,
    min: number,
    max: number,
    collapsed: boolean,
  ): void {
    counts.forEach((count, index) => {
      if (count > 0) this.#addToBucket(startIndex + index, count);
    });
    this.#zeroCount += zeroCount;
    this.#sum = sum;
    this.#min = min;
    this.#max = max;
    if (collapsed) this.#collapsed = true;
  }

  /** The compact form ({@link QuantileSketchJSON}); `sketchFromJSON` (sketch-codec.ts) reads it back. */
  toJSON(): QuantileSketchJSON {
    const counts: number[] = [];
    for (let index = this.#lo; index <= this.#hi; index++) counts.push(this.#countAt(index));
    const empty = this.count === 0;
    return {
      relativeAccuracy: this.#relativeAccuracy,
      minValue: this.#minValue,
      maxBuckets: this.#maxBuckets,
      sum: this.#sum,
      min: empty ? 0 : this.#min,
      max: empty ? 0 : this.#max,
      zeroCount: this.#zeroCount,
      startIndex: this.#binTotal > 0 ? this.#lo : this.#indexOf(this.#minValue),
      counts,
    };
  }

  #indexOf(value: number): number {
    // `+ 0` turns the -0 of ⌈−0.3⌉ into 0, so toJSON round-trips under Object.is.
    return Math.ceil(Math.log(value) * this.#invLogGamma) + 0;
  }

  /** The count of bucket `index`, which must be in the array. */
  #countAt(index: number): number {
    return this.#bins[index - this.#offset] ?? 0;
  }

  #addAt(index: number, count: number): void {
    this.#bins[index - this.#offset] = this.#countAt(index) + count;
  }

  #addToBucket(wanted: number, count: number): void {
    let index = wanted;
    const maxBuckets = this.#maxBuckets;
    if (this.#binTotal === 0) {
      this.#cover(index, index);
    } else if (index < this.#lo) {
      if (this.#hi - index >= maxBuckets) {
        // Below the span we may keep: it joins the lowest bucket kept.
        index = this.#hi - maxBuckets + 1;
        this.#collapsed = true;
      }
      this.#cover(index, this.#hi);
    } else if (index > this.#hi) {
      // Above the span we may keep: every count below `lowest` moves into it.
      const lowest = index - maxBuckets + 1;
      let moved = 0;
      for (let below = this.#lo; below < lowest && below <= this.#hi; below++) {
        moved += this.#countAt(below);
        this.#bins[below - this.#offset] = 0;
      }
      if (lowest > this.#lo) {
        this.#collapsed = true;
        // Only [lowest, #hi] still holds counts; when it is empty, nothing is kept.
        this.#lo = lowest;
      }
      this.#cover(this.#lo, index);
      this.#addAt(this.#lo, moved);
    }
    this.#addAt(index, count);
    this.#binTotal += count;
  }

  /**
   * Makes [lo, hi] (a span ≤ maxBuckets, containing every count, which are
   * all in [#lo, #hi]) the span, reallocating the array when it does not
   * cover it: the new one keeps the counts, doubles in size up to
   * `maxBuckets` when the span needs it, and is centred on the span so the
   * next extension, either way, usually fits.
   */
  #cover(lo: number, hi: number): void {
    const bins = this.#bins;
    const offset = this.#offset;
    if (lo < offset || hi >= offset + bins.length) {
      const span = hi - lo + 1;
      let capacity = Math.max(bins.length, Math.min(INITIAL_CAPACITY, this.#maxBuckets));
      while (capacity < span) capacity *= 2;
      capacity = Math.min(capacity, this.#maxBuckets);
      this.#bins = new Float64Array(capacity);
      this.#offset = lo - Math.floor((capacity - span) / 2);
      if (this.#lo <= this.#hi) {
        this.#bins.set(bins.subarray(this.#lo - offset, this.#hi - offset + 1), this.#lo - this.#offset);
      }
    }
    this.#lo = lo;
    this.#hi = hi;
  }
}

/**
 * @internal Adds every value of `other` to `into`, as if they had been added
 * there (the result is the same whatever the order of adds and merges).
 * `other` is unchanged; it may be `into` itself. Unchecked: both must have
 * the same `relativeAccuracy` and `minValue`, as sketches made by the same
 * code with the same options do (the windowed sketch of sliding-sketch.ts).
 * `mergeSketch` (sketch-codec.ts) checks first, for sketches from elsewhere.
 * A free function, not a method, so the bundles that never merge drop it.
 */
export function mergeInto(into: QuantileSketch, other: QuantileSketch): void {
  if (other.count === 0) return;
  // Taken before `into` changes, so merging a sketch into itself reads a
  // snapshot; `other` is not empty, so its JSON min and max are the real ones.
  const theirs = other.toJSON();
  const min = into.min;
  const max = into.max;
  into._load(
    theirs.startIndex,
    theirs.counts,
    theirs.zeroCount,
    Math.min(into.sum + theirs.sum, Number.MAX_VALUE),
    min === undefined || theirs.min < min ? theirs.min : min,
    max === undefined || theirs.max > max ? theirs.max : max,
    into.collapsed || other.collapsed,
  );
}
