import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { QuantileSketch } from '../../../src/observability/quantile-sketch';
import { SlidingSketch } from '../../../src/observability/sliding-sketch';

const MINUTE = 60_000;
const WINDOW = 5 * MINUTE;

/** A clock that moves only when told. */
function manualClock(start = 0) {
  let now = start;
  return {
    now: () => now,
    set: (time: number) => {
      now = time;
    },
  };
}

/** Adds `value` at the clock's time, as the collector adds a batch. */
function addNow(window: SlidingSketch, ...values: number[]): void {
  const sketch = window.current();
  for (const value of values) sketch.add(value);
}

describe('SlidingSketch', () => {
  it('reads the values of the current interval and the four before it, merged', () => {
    const clock = manualClock();
    const window = new SlidingSketch(WINDOW, 5, clock);
    expect(window.read().count).toBe(0);
    expect(window.read().quantile(0.99)).toBeUndefined();
    addNow(window, 10, 20);
    clock.set(MINUTE);
    addNow(window, 30);
    clock.set(4 * MINUTE + 59_999);
    addNow(window, 8000);
    const expected = new QuantileSketch();
    for (const value of [10, 20, 30, 8000]) expected.add(value);
    expect(window.read().toJSON()).toEqual(expected.toJSON());
    // Interval 0 drops out as a whole once interval 5 begins: 4 to 5 minutes after its values.
    clock.set(WINDOW);
    const read = window.read();
    expect([read.count, read.min, read.max]).toEqual([2, 30, 8000]);
    clock.set(WINDOW + 4 * MINUTE + 59_999);
    expect(window.read().count).toBe(0);
  });

  it('equals one sketch of the values added in the window (property)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(fc.integer({ min: 0, max: 60 * MINUTE }), fc.double({ min: 0, max: 1e6, noNaN: true })),
          {
            maxLength: 200,
          },
        ),
        fc.integer({ min: 0, max: 70 * MINUTE }),
        (samples, readAt) => {
          const clock = manualClock();
          const window = new SlidingSketch(WINDOW, 5, clock);
          const sorted = [...samples].sort(([a], [b]) => a - b);
          const end = Math.max(readAt, sorted.at(-1)?.[0] ?? 0);
          for (const [time, value] of sorted) {
            clock.set(time);
            addNow(window, value);
          }
          clock.set(end);
          const expected = new QuantileSketch();
          const oldest = Math.floor(end / MINUTE) - 4;
          for (const [time, value] of sorted) if (Math.floor(time / MINUTE) >= oldest) expected.add(value);
          const { sum, ...rest } = window.read().toJSON();
          const { sum: expectedSum, ...expectedRest } = expected.toJSON();
          expect(rest).toEqual(expectedRest);
          expect(sum).toBeCloseTo(expectedSum, 3);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('is bounded: the same five sketches and about five minutes of values under hours of traffic', () => {
    const clock = manualClock();
    const window = new SlidingSketch(WINDOW, 5, clock);
    const lifetime = new QuantileSketch();
    const seen = new Set<QuantileSketch>();
    let counts = 0;
    for (let time = 0; time <= 6 * 3_600_000; time += 1000) {
      clock.set(time);
      // 50 events a second, latencies over five decades.
      const sketch = window.current();
      seen.add(sketch);
      for (let i = 0; i < 50; i++) {
        const latency = 10 ** ((i % 10) / 2) * (1 + (time % 7));
        sketch.add(latency);
        lifetime.add(latency);
      }
      if (time % MINUTE === 0) {
        const read = window.read();
        expect(window.size).toBe(5);
        // The four whole minutes before, and the first second of this one.
        if (time >= WINDOW) expect(read.count).toBe((4 * 60 + 1) * 50);
        counts = Math.max(counts, read.count);
      }
    }
    expect(counts).toBeLessThanOrEqual(5 * 60 * 50);
    expect(lifetime.count).toBe((6 * 3600 + 1) * 50);
    // One sketch per interval lived, each dropped when its slot came round again.
    expect(seen.size).toBe(6 * 60 + 1);
  });

  it('starts empty after a silence of a whole window, and replaces no empty sketch', () => {
    const clock = manualClock();
    const window = new SlidingSketch(WINDOW, 5, clock);
    const first = window.current();
    clock.set(10 * MINUTE);
    expect(window.current()).toBe(first);
    addNow(window, 5);
    clock.set(20 * MINUTE);
    expect(window.read().count).toBe(0);
    expect(window.current()).not.toBe(first);
  });

  it('keeps adding to the newest interval when the clock goes back, and never throws on a broken clock', () => {
    const clock = manualClock(10 * MINUTE);
    const window = new SlidingSketch(WINDOW, 5, clock);
    addNow(window, 1);
    clock.set(MINUTE);
    addNow(window, 2);
    clock.set(10 * MINUTE + 30_000);
    expect(window.read().count).toBe(2);
    for (const broken of [Number.NaN, Number.POSITIVE_INFINITY, 2 ** 60]) {
      const other = new SlidingSketch(WINDOW, 5, { now: () => broken });
      addNow(other, 3);
      expect(other.read().count).toBe(1);
    }
  });
});
