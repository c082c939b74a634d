import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  mergeInto,
  QuantileSketch,
  type QuantileSketchJSON,
} from '../../../src/observability/quantile-sketch';
import { mergeSketch, sketchFromJSON } from '../../../src/observability/sketch-codec';

/** The reference: the value at rank ⌊q·(n−1)⌋ of the sorted data, as the sketch defines it. */
function exactQuantile(sorted: readonly number[], q: number): number {
  const value = sorted[Math.floor(q * (sorted.length - 1))];
  if (value === undefined) throw new Error('empty');
  return value;
}

const QUANTILES = [0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1];

/** Positive values ≥ 1e-3 spread over many magnitudes: 10^e · m. */
const positive = fc
  .tuple(fc.integer({ min: -3, max: 9 }), fc.double({ min: 1, max: 10, noNaN: true }))
  .map(([exponent, mantissa]) => mantissa * 10 ** exponent);

function relativeError(estimate: number, exact: number): number {
  return Math.abs(estimate - exact) / exact;
}

function fill(values: readonly number[], sketch = new QuantileSketch()): QuantileSketch {
  for (const value of values) sketch.add(value);
  return sketch;
}

describe('QuantileSketch', () => {
  describe('options', () => {
    it.each([
      [{ relativeAccuracy: 0 }, 'sketch.relativeAccuracy must be a number ≥ 0.000001 and ≤ 0.5, got 0'],
      [{ relativeAccuracy: 0.6 }, 'sketch.relativeAccuracy must be a number ≥ 0.000001 and ≤ 0.5, got 0.6'],
      // Smaller would put bucket indexes past 2^53, where walking them never ends.
      [
        { relativeAccuracy: 1e-13 },
        'sketch.relativeAccuracy must be a number ≥ 0.000001 and ≤ 0.5, got 1e-13',
      ],
      [
        { relativeAccuracy: Number.NaN },
        'sketch.relativeAccuracy must be a number ≥ 0.000001 and ≤ 0.5, got NaN',
      ],
      [{ minValue: 0 }, 'sketch.minValue must be a finite number > 0, got 0'],
      [{ minValue: Number.POSITIVE_INFINITY }, 'sketch.minValue must be a finite number > 0, got Infinity'],
      [{ maxBuckets: 1 }, 'sketch.maxBuckets must be an integer ≥ 2 and ≤ 65536, got 1'],
      [{ maxBuckets: 10.5 }, 'sketch.maxBuckets must be an integer ≥ 2 and ≤ 65536, got 10.5'],
    ])('sketchFromJSON rejects settings %j with a RangeError naming the field', (options, message) => {
      // The constructor trusts its settings; a sketch from a wire is checked
      // before one is built with them.
      const json = { ...new QuantileSketch().toJSON(), ...options };
      expect(() => sketchFromJSON(json)).toThrow(new RangeError(message));
    });

    it('defaults to α = 0.01', () => {
      expect(new QuantileSketch().relativeAccuracy).toBe(0.01);
    });
  });

  describe('basics', () => {
    it('is empty at first: quantiles, min and max are undefined', () => {
      const sketch = new QuantileSketch();
      expect(sketch.count).toBe(0);
      expect(sketch.sum).toBe(0);
      expect(sketch.min).toBeUndefined();
      expect(sketch.max).toBeUndefined();
      expect(sketch.quantile(0.5)).toBeUndefined();
      expect(sketch.bucketCount).toBe(0);
    });

    it('tracks count, sum, min and max exactly, with counts', () => {
      const sketch = new QuantileSketch();
      sketch.add(10);
      sketch.add(30, 3);
      sketch.add(0.5);
      expect(sketch.count).toBe(5);
      expect(sketch.sum).toBe(100.5);
      expect(sketch.min).toBe(0.5);
      expect(sketch.max).toBe(30);
    });

    it('reads rank 0 and rank n−1 back exactly', () => {
      const sketch = fill([123.456, 7.891, 99_999.3]);
      expect(sketch.quantile(0)).toBe(7.891);
      expect(sketch.quantile(1)).toBe(99_999.3);
    });

    it('rejects q outside [0, 1]', () => {
      const sketch = fill([1]);
      expect(() => sketch.quantile(-0.1)).toThrow(RangeError);
      expect(() => sketch.quantile(1.1)).toThrow(RangeError);
      expect(() => sketch.quantile(Number.NaN)).toThrow(RangeError);
    });

    it('ignores NaN and ±Infinity (returns false) and counts negatives as 0', () => {
      const sketch = new QuantileSketch();
      expect(sketch.add(Number.NaN)).toBe(false);
      expect(sketch.add(Number.POSITIVE_INFINITY)).toBe(false);
      expect(sketch.add(Number.NEGATIVE_INFINITY)).toBe(false);
      expect(sketch.count).toBe(0);
      expect(sketch.add(-50)).toBe(true);
      expect(sketch.count).toBe(1);
      expect(sketch.min).toBe(0);
      expect(sketch.sum).toBe(0);
      expect(sketch.quantile(0.5)).toBe(0);
    });

    it('saturates its sum instead of overflowing to Infinity, so its JSON still reads back', () => {
      // Latencies near 1e308 come from hostile but finite timestamps.
      const sketch = new QuantileSketch();
      sketch.add(1e308);
      sketch.add(1e308);
      expect(sketch.sum).toBe(Number.MAX_VALUE);
      const json = JSON.parse(JSON.stringify(sketch.toJSON())) as QuantileSketchJSON;
      expect(json.sum).toBe(Number.MAX_VALUE);
      expect(sketchFromJSON(json).count).toBe(2);
      mergeSketch(sketch, sketchFromJSON(json));
      expect(sketch.sum).toBe(Number.MAX_VALUE);
      expect(sketch.count).toBe(4);
    });

    it('throws for a count that is not an integer ≥ 1 (a caller bug)', () => {
      const sketch = new QuantileSketch();
      expect(() => sketch.add(1, 0)).toThrow(new RangeError('count must be an integer ≥ 1, got 0'));
      expect(() => sketch.add(1, 1.5)).toThrow(RangeError);
      expect(() => sketch.add(1, Number.NaN)).toThrow(RangeError);
      expect(sketch.count).toBe(0);
    });

    it('puts values below minValue in the zero bucket: absolute error ≤ minValue', () => {
      const sketch = new QuantileSketch({ minValue: 1e-3 });
      const values = [0, 1e-6, 5e-4, 9e-4, 2e-4, 0.0001, 3e-4];
      fill(values, sketch);
      const sorted = [...values].sort((a, b) => a - b);
      for (const q of QUANTILES) {
        expect(Math.abs((sketch.quantile(q) ?? Number.NaN) - exactQuantile(sorted, q))).toBeLessThanOrEqual(
          1e-3,
        );
      }
    });
  });

  describe('accuracy (property)', () => {
    it('every quantile is within 2 % of the exact one, for values over many magnitudes', () => {
      fc.assert(
        fc.property(fc.array(positive, { minLength: 1, maxLength: 2000 }), (values) => {
          const sketch = fill(values);
          const sorted = [...values].sort((a, b) => a - b);
          for (const q of QUANTILES) {
            const estimate = sketch.quantile(q);
            expect(estimate).toBeDefined();
            expect(relativeError(estimate ?? Number.NaN, exactQuantile(sorted, q))).toBeLessThanOrEqual(0.02);
          }
        }),
        { numRuns: 300 },
      );
    });

    it('keeps its stated α (not just 2 %), for any q, with weighted adds', () => {
      fc.assert(
        fc.property(
          fc.array(fc.tuple(positive, fc.integer({ min: 1, max: 5 })), { minLength: 1, maxLength: 300 }),
          fc.double({ min: 0, max: 1, noNaN: true }),
          fc.constantFrom(0.005, 0.01, 0.02),
          (weighted, q, alpha) => {
            // Enough buckets that 1e-3..1e10 never collapses, even at α = 0.005.
            const sketch = new QuantileSketch({ relativeAccuracy: alpha, maxBuckets: 8192 });
            const values: number[] = [];
            for (const [value, count] of weighted) {
              sketch.add(value, count);
              for (let i = 0; i < count; i++) values.push(value);
            }
            values.sort((a, b) => a - b);
            const error = relativeError(sketch.quantile(q) ?? Number.NaN, exactQuantile(values, q));
            expect(error).toBeLessThanOrEqual(alpha * (1 + 1e-9));
          },
        ),
        { numRuns: 500 },
      );
    });

    it('is accurate on a narrow cluster and on heavy tails', () => {
      const cluster = Array.from({ length: 1000 }, (_, i) => 100 + i * 0.001);
      const tail = Array.from({ length: 1000 }, (_, i) => (i < 990 ? 10 : 10_000 + i));
      for (const values of [cluster, tail]) {
        const sketch = fill(values);
        const sorted = [...values].sort((a, b) => a - b);
        for (const q of QUANTILES) {
          expect(relativeError(sketch.quantile(q) ?? 0, exactQuantile(sorted, q))).toBeLessThanOrEqual(0.01);
        }
      }
    });
  });

  describe('mergeSketch', () => {
    it('equals adding everything to one sketch (property)', () => {
      fc.assert(
        fc.property(
          fc.array(positive, { maxLength: 500 }),
          fc.array(positive, { maxLength: 500 }),
          (a, b) => {
            const merged = fill(a);
            mergeSketch(merged, fill(b));
            const single = fill([...a, ...b]);
            const { sum: mergedSum, ...mergedRest } = merged.toJSON();
            const { sum: singleSum, ...singleRest } = single.toJSON();
            expect(mergedRest).toEqual(singleRest);
            expect(mergedSum).toBeCloseTo(singleSum, 3);
            expect(merged.count).toBe(single.count);
            for (const q of QUANTILES) expect(merged.quantile(q)).toBe(single.quantile(q));
          },
        ),
        { numRuns: 200 },
      );
    });

    it('equals adding everything to one sketch also when low buckets collapse', () => {
      fc.assert(
        fc.property(
          fc.array(positive, { maxLength: 300 }),
          fc.array(positive, { maxLength: 300 }),
          (a, b) => {
            const options = { maxBuckets: 50 };
            const merged = fill(a, new QuantileSketch(options));
            mergeSketch(merged, fill(b, new QuantileSketch(options)));
            const single = fill([...a, ...b], new QuantileSketch(options));
            expect(merged.toJSON().counts).toEqual(single.toJSON().counts);
            expect(merged.toJSON().startIndex).toBe(single.toJSON().startIndex);
            for (const q of QUANTILES) expect(merged.quantile(q)).toBe(single.quantile(q));
          },
        ),
        { numRuns: 200 },
      );
    });

    it('merges a sketch into itself as doubling it', () => {
      const sketch = fill([1, 2, 3, 4]);
      mergeSketch(sketch, sketch);
      expect(sketch.count).toBe(8);
      expect(sketch.sum).toBe(20);
      expect(sketch.toJSON().counts).toEqual(fill([1, 1, 2, 2, 3, 3, 4, 4]).toJSON().counts);
    });

    it('refuses sketches whose buckets do not line up', () => {
      const sketch = new QuantileSketch();
      expect(() => mergeSketch(sketch, new QuantileSketch({ relativeAccuracy: 0.02 }))).toThrow(RangeError);
      expect(() => mergeSketch(sketch, new QuantileSketch({ minValue: 1 }))).toThrow(RangeError);
    });

    it('merging an empty sketch changes nothing', () => {
      const sketch = fill([3, 4]);
      const before = sketch.toJSON();
      mergeSketch(sketch, new QuantileSketch());
      expect(sketch.toJSON()).toEqual(before);
    });
  });

  describe('mergeInto (unchecked, for sketches of the same settings)', () => {
    it('equals adding everything to one sketch, zero bucket, collapse and summary included (property)', () => {
      const value = fc.oneof(positive, fc.constantFrom(0, 1e-4, -5));
      fc.assert(
        fc.property(
          fc.array(value, { maxLength: 300 }),
          fc.array(value, { maxLength: 300 }),
          fc.constantFrom(50, 2048),
          (a, b, maxBuckets) => {
            const options = { maxBuckets };
            const merged = fill(a, new QuantileSketch(options));
            mergeInto(merged, fill(b, new QuantileSketch(options)));
            const single = fill([...a, ...b], new QuantileSketch(options));
            const { sum: mergedSum, ...mergedRest } = merged.toJSON();
            const { sum: singleSum, ...singleRest } = single.toJSON();
            expect(mergedRest).toEqual(singleRest);
            expect(mergedSum).toBeCloseTo(singleSum, 3);
            expect([merged.count, merged.min, merged.max, merged.collapsed]).toEqual([
              single.count,
              single.min,
              single.max,
              single.collapsed,
            ]);
            for (const q of QUANTILES) expect(merged.quantile(q)).toBe(single.quantile(q));
          },
        ),
        { numRuns: 200 },
      );
    });

    it('merges several sketches into an empty one as into one sketch, whatever the order', () => {
      const parts = [[5, 7000], [], [0, 3, 3], [250, 1e-4, 80]];
      const forward = new QuantileSketch();
      for (const part of parts) mergeInto(forward, fill(part));
      const backward = new QuantileSketch();
      for (const part of [...parts].reverse()) mergeInto(backward, fill(part));
      const single = fill(parts.flat());
      expect(forward.toJSON()).toEqual(single.toJSON());
      expect(backward.toJSON()).toEqual(single.toJSON());
    });

    it('leaves the merged sketch unchanged, and doubles a sketch merged into itself', () => {
      const other = fill([0, 2, 9]);
      const before = other.toJSON();
      mergeInto(fill([1]), other);
      expect(other.toJSON()).toEqual(before);
      mergeInto(other, other);
      expect(other.toJSON()).toEqual(fill([0, 0, 2, 2, 9, 9]).toJSON());
    });

    it('merging an empty sketch changes nothing, also into an empty one', () => {
      const sketch = fill([3, 4]);
      const before = sketch.toJSON();
      mergeInto(sketch, new QuantileSketch());
      expect(sketch.toJSON()).toEqual(before);
      const empty = new QuantileSketch();
      mergeInto(empty, new QuantileSketch());
      expect([empty.count, empty.min, empty.quantile(0.99)]).toEqual([0, undefined, undefined]);
    });
  });

  describe('bounded memory', () => {
    it('keeps ≤ maxBuckets buckets for 1e6 values spanning 1e-3..1e7, and stays within 2 %', () => {
      const sketch = new QuantileSketch();
      let seed = 42;
      const random = (): number => {
        // xorshift32: deterministic and allocation-free.
        seed ^= seed << 13;
        seed ^= seed >>> 17;
        seed ^= seed << 5;
        return (seed >>> 0) / 4_294_967_296;
      };
      const sample: number[] = [];
      for (let i = 0; i < 1_000_000; i++) {
        const value = 10 ** (-3 + 10 * random());
        sketch.add(value);
        if (i % 100 === 0) sample.push(value);
      }
      expect(sketch.count).toBe(1_000_000);
      expect(sketch.bucketCount).toBeLessThanOrEqual(2048);
      // log_γ(1e10) with γ = 1.01/0.99: about 1152 buckets, no collapse.
      expect(sketch.bucketCount).toBeLessThan(1160);
      expect(sketch.collapsed).toBe(false);
      expect(sketch.toJSON().counts.length).toBe(sketch.bucketCount);
      // The median of log-uniform 1e-3..1e7 is 1e2.
      expect(relativeError(sketch.quantile(0.5) ?? 0, 100)).toBeLessThan(0.05);
    });

    it('collapses the lowest buckets past maxBuckets: high quantiles stay accurate, low ones do not', () => {
      const sketch = new QuantileSketch({ maxBuckets: 100 });
      const values = Array.from({ length: 10_000 }, (_, i) => 10 ** (-3 + (10 * i) / 9999));
      fill(values, sketch);
      expect(sketch.bucketCount).toBe(100);
      expect(sketch.collapsed).toBe(true);
      const sorted = [...values].sort((a, b) => a - b);
      for (const q of [0.95, 0.99, 0.999, 1]) {
        expect(relativeError(sketch.quantile(q) ?? 0, exactQuantile(sorted, q))).toBeLessThanOrEqual(0.01);
      }
      // p10 is far below the kept range, so it reads as the collapsed bucket: far too high.
      expect(relativeError(sketch.quantile(0.1) ?? 0, exactQuantile(sorted, 0.1))).toBeGreaterThan(1);
      expect(sketch.quantile(0)).toBe(sorted[0]); // min stays exact
    });

    it('collapses when values arrive from high to low as well', () => {
      // Ten buckets keep the top factor ≈ 1.22, here the top ≈ 1.4 % of the values, so p99 is kept.
      const sketch = new QuantileSketch({ maxBuckets: 10 });
      const values: number[] = [];
      for (let value = 1e3; value >= 1e-3; value /= 1.001) values.push(value);
      fill(values, sketch);
      expect(sketch.bucketCount).toBe(10);
      const sorted = [...values].sort((a, b) => a - b);
      for (const q of [0.99, 0.999, 1]) {
        expect(relativeError(sketch.quantile(q) ?? 0, exactQuantile(sorted, q))).toBeLessThanOrEqual(0.01);
      }
    });

    it('handles a jump far above everything so far (all old buckets collapse)', () => {
      const sketch = new QuantileSketch({ maxBuckets: 10 });
      fill([1, 2, 3, 4], sketch);
      sketch.add(1e9);
      expect(sketch.bucketCount).toBe(10);
      expect(sketch.count).toBe(5);
      expect(sketch.quantile(1)).toBe(1e9);
      expect(sketch.toJSON().counts.reduce((a, b) => a + b, 0)).toBe(5);
    });

    it('grows and shifts its window both ways without losing counts (property)', () => {
      fc.assert(
        fc.property(fc.array(positive, { maxLength: 400 }), (values) => {
          const sketch = fill(values, new QuantileSketch({ maxBuckets: 4096 }));
          const json = sketch.toJSON();
          expect(json.counts.reduce((a, b) => a + b, 0) + json.zeroCount).toBe(values.length);
        }),
      );
    });
  });

  describe('toJSON / sketchFromJSON', () => {
    it('round-trips (property)', () => {
      fc.assert(
        fc.property(fc.array(positive, { maxLength: 300 }), (values) => {
          const sketch = fill(values);
          const json = JSON.parse(JSON.stringify(sketch)) as QuantileSketchJSON;
          const back = sketchFromJSON(json);
          expect(back.toJSON()).toEqual(sketch.toJSON());
          expect(back.count).toBe(sketch.count);
          for (const q of QUANTILES) expect(back.quantile(q)).toBe(sketch.quantile(q));
        }),
        { numRuns: 200 },
      );
    });

    it('is compact: one dense array from the lowest used bucket', () => {
      const json = fill([100, 100, 101]).toJSON();
      expect(json.counts.length).toBeLessThanOrEqual(2);
      expect(json.counts.reduce((a, b) => a + b, 0)).toBe(3);
      expect(json).toMatchObject({
        relativeAccuracy: 0.01,
        minValue: 1e-3,
        maxBuckets: 2048,
        min: 100,
        max: 101,
      });
    });

    it('round-trips an empty sketch', () => {
      const back = sketchFromJSON(new QuantileSketch().toJSON());
      expect(back.count).toBe(0);
      expect(back.quantile(0.5)).toBeUndefined();
    });

    const valid = (): Record<string, unknown> => ({ ...fill([1, 10, 100]).toJSON() });

    it.each([
      ['not an object', () => 5, 'sketch must be an object, got 5'],
      ['bad α', () => ({ ...valid(), relativeAccuracy: 'x' }), 'sketch.relativeAccuracy must be'],
      ['bad minValue', () => ({ ...valid(), minValue: -1 }), 'sketch.minValue must be'],
      ['bad maxBuckets', () => ({ ...valid(), maxBuckets: 1e9 }), 'sketch.maxBuckets must be'],
      ['negative sum', () => ({ ...valid(), sum: -1 }), 'sketch.sum must be'],
      ['max < min', () => ({ ...valid(), min: 5, max: 4 }), 'sketch.max must be'],
      ['bad zeroCount', () => ({ ...valid(), zeroCount: 1.5 }), 'sketch.zeroCount must be'],
      ['bad startIndex', () => ({ ...valid(), startIndex: -1e9 }), 'sketch.startIndex must be'],
      ['counts not an array', () => ({ ...valid(), counts: 'abc' }), 'sketch.counts must be an array'],
      ['a bad count', () => ({ ...valid(), counts: [1, -2] }), 'sketch.counts[1] must be an integer'],
      [
        'too many counts',
        () => ({ ...valid(), maxBuckets: 2, counts: [1, 1, 1] }),
        'sketch.counts must be an array of at most 2',
      ],
      [
        'counts past the largest finite value',
        // The highest index, for Number.MAX_VALUE, is 35488 with α = 0.01.
        () => ({ ...valid(), startIndex: 35_480, counts: new Array(20).fill(1) }),
        'sketch.counts must end at bucket index',
      ],
      [
        'an unsafe total',
        () => ({ ...valid(), counts: [Number.MAX_SAFE_INTEGER, 1] }),
        'sketch must hold at most',
      ],
    ])('rejects %s with a RangeError naming the field', (_name, make, message) => {
      expect(() => sketchFromJSON(make())).toThrow(RangeError);
      expect(() => sketchFromJSON(make())).toThrow(message);
    });

    it('names the input as told', () => {
      expect(() => sketchFromJSON({ ...valid(), sum: Number.NaN }, 'sli.delivery')).toThrow(
        'sli.delivery.sum must be a finite number ≥ 0, got NaN',
      );
    });
  });
});
