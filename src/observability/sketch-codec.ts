import { assertInteger, assertNumber, assertObject, assertPositive, describeValue } from '../util/validate';
import { MAX_MAX_BUCKETS, MIN_RELATIVE_ACCURACY, mergeInto, QuantileSketch } from './quantile-sketch';

// The parts of a quantile sketch that the client bundle never needs: reading
// a serialised sketch back and merging two with their settings checked (the
// unchecked `mergeInto` of the SLI window is in quantile-sketch.ts, as these
// checks would tie the lazily loaded SLI code to the core's chunk). They sit
// here, not on the class,
// because class members are never tree-shaken; only the lazily loaded
// telemetry code (and tests) import this module.

/** Checks a sketch's `relativeAccuracy` before a sketch is built with it. */
export function assertRelativeAccuracy(field: string, value: unknown): asserts value is number {
  // Below 1e-6 bucket indexes of large values pass 2^53, where index++ stops
  // moving and every walk over the buckets loops for ever (a hostile report
  // could hang whatever reads it); above 0.5 the estimate is useless.
  if (typeof value !== 'number' || !(value >= MIN_RELATIVE_ACCURACY && value <= 0.5)) {
    throw new RangeError(`${field} must be a number ≥ 0.000001 and ≤ 0.5, got ${describeValue(value)}`);
  }
}

/**
 * Rebuilds a sketch from {@link QuantileSketch.toJSON} output, e.g. a payload
 * from another tab. Everything is checked, since it came over a wire.
 *
 * @param field how to name the input in error messages.
 * @throws RangeError naming the offending field (`sketch.counts[3] must be …`).
 */
export function sketchFromJSON(input: unknown, field = 'sketch'): QuantileSketch {
  assertObject(field, input);
  const { relativeAccuracy, minValue, maxBuckets, sum, min, max, zeroCount, startIndex, counts } = input;
  assertRelativeAccuracy(`${field}.relativeAccuracy`, relativeAccuracy);
  assertPositive(`${field}.minValue`, minValue);
  assertInteger(`${field}.maxBuckets`, maxBuckets, 2, MAX_MAX_BUCKETS);
  const sketch = new QuantileSketch({ relativeAccuracy, minValue, maxBuckets });
  assertNumber(`${field}.sum`, sum, 0);
  assertNumber(`${field}.min`, min, 0);
  assertNumber(`${field}.max`, max, min);
  assertInteger(`${field}.zeroCount`, zeroCount, 0, Number.MAX_SAFE_INTEGER);
  // Any index outside these could not have come from a finite value ≥ minValue.
  // An empty sketch's `startIndex` is the bucket of its minValue, so the class
  // computes both (the index depends only on relativeAccuracy). Empty sketches
  // keep this loop-free whatever the index.
  const lowest = sketch.toJSON().startIndex;
  const highest = new QuantileSketch({ relativeAccuracy, minValue: Number.MAX_VALUE, maxBuckets }).toJSON()
    .startIndex;
  assertInteger(`${field}.startIndex`, startIndex, lowest, highest);
  if (!Array.isArray(counts) || counts.length > maxBuckets) {
    throw new RangeError(
      `${field}.counts must be an array of at most ${maxBuckets} counts, got ${describeValue(counts)}`,
    );
  }
  if (startIndex + counts.length - 1 > highest) {
    throw new RangeError(
      `${field}.counts must end at bucket index ≤ ${highest}, got ${startIndex + counts.length - 1}`,
    );
  }
  let total = zeroCount;
  counts.forEach((value: unknown, index) => {
    assertInteger(`${field}.counts[${index}]`, value, 0, Number.MAX_SAFE_INTEGER);
    total += value;
  });
  if (!Number.isSafeInteger(total)) {
    throw new RangeError(`${field} must hold at most ${Number.MAX_SAFE_INTEGER} values, got ${total}`);
  }
  if (total === 0) return sketch;
  // At most maxBuckets consecutive buckets: loading them never collapses.
  sketch._load(startIndex, counts as number[], zeroCount, sum, min, max, false);
  return sketch;
}

/**
 * Adds every value of `other` to `into`, as if they had been added there
 * (the result is the same whatever the order of adds and merges). `other` is
 * unchanged; it may be `into` itself.
 *
 * @throws RangeError when the sketches' `relativeAccuracy` or `minValue`
 * differ: their buckets would not line up.
 */
export function mergeSketch(into: QuantileSketch, other: QuantileSketch): void {
  // For the checks only (mergeInto takes its own snapshot of `other`).
  const mine = into.toJSON();
  const theirs = other.toJSON();
  if (theirs.relativeAccuracy !== mine.relativeAccuracy || theirs.minValue !== mine.minValue) {
    throw new RangeError(
      `merge needs the same relativeAccuracy and minValue, got ${theirs.relativeAccuracy}/${theirs.minValue} ` +
        `into ${mine.relativeAccuracy}/${mine.minValue}`,
    );
  }
  if (other.count === 0) return;
  // As when merge was a method, a sketch merged into itself is read back
  // through sketchFromJSON first, which throws on a bad summary.
  if (other === into) sketchFromJSON(theirs);
  mergeInto(into, other);
}
