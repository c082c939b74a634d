import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SlidingCounter, type SlidingWindowOptions } from '../../../src/observability/sliding-counter';
import { TimeWeightedRatio } from '../../../src/observability/time-weighted-ratio';

/** A clock that moves only when told. */
function manualClock(start = 1_000_000) {
  let now = start;
  return {
    now: () => now,
    advance: (ms: number) => {
      now += ms;
    },
    set: (time: number) => {
      now = time;
    },
  };
}

const HOUR = 3_600_000;
const MINUTE = 60_000;

describe('SlidingCounter', () => {
  it('counts events in the window', () => {
    const clock = manualClock();
    const counter = new SlidingCounter({ windowMs: HOUR, clock });
    expect(counter.total()).toBe(0);
    counter.add();
    counter.add(2);
    clock.advance(30 * MINUTE);
    counter.add();
    expect(counter.total()).toBe(4);
  });

  it('drops events once they are older than the window, never later', () => {
    const clock = manualClock(0);
    const counter = new SlidingCounter({ windowMs: HOUR, buckets: 60, clock });
    counter.add(); // at 0, in bucket [0, 1 min)
    clock.set(HOUR - 1);
    expect(counter.total()).toBe(1);
    clock.set(HOUR); // 1 h old: out
    expect(counter.total()).toBe(0);
  });

  it('counts everything younger than windowMs − bucketMs', () => {
    const clock = manualClock(0);
    const counter = new SlidingCounter({ windowMs: 5 * MINUTE, buckets: 5, clock });
    clock.set(59_999); // late in bucket 0: drops out when bucket 5 starts, at 5 min
    counter.add();
    clock.set(5 * MINUTE - 1);
    expect(counter.total()).toBe(1);
    clock.set(5 * MINUTE); // only 4 min 0.001 s old, but its bucket has left the window
    expect(counter.total()).toBe(0);
  });

  it('survives a long silence (more than a whole window) and a clock that steps back', () => {
    const clock = manualClock();
    const counter = new SlidingCounter({ windowMs: MINUTE, buckets: 6, clock });
    counter.add(5);
    clock.advance(10 * HOUR);
    expect(counter.total()).toBe(0);
    counter.add();
    clock.advance(-30_000);
    counter.add();
    expect(counter.total()).toBe(2);
  });

  it('ignores a negative or non-finite count', () => {
    const counter = new SlidingCounter({ windowMs: MINUTE, clock: manualClock() });
    counter.add(-1);
    counter.add(Number.NaN);
    counter.add(Number.POSITIVE_INFINITY);
    expect(counter.total()).toBe(0);
  });

  it('reset() forgets everything', () => {
    const counter = new SlidingCounter({ windowMs: MINUTE, clock: manualClock() });
    counter.add(3);
    counter.reset();
    expect(counter.total()).toBe(0);
  });

  it('counts afresh after reset(), in the same bucket or a later one', () => {
    const clock = manualClock();
    const counter = new SlidingCounter({ windowMs: MINUTE, buckets: 6, clock });
    counter.add(3);
    clock.advance(10_000);
    counter.add(4);
    counter.reset();
    counter.add(2);
    expect(counter.total()).toBe(2);
    clock.advance(10_000);
    counter.add(1);
    expect(counter.total()).toBe(3);
  });

  it('matches a reference count within the documented reach (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 20_000 }), fc.integer({ min: 1, max: 3 })), {
          maxLength: 100,
        }),
        fc.integer({ min: 1, max: 20 }),
        (steps, buckets) => {
          const windowMs = 10_000;
          const bucketMs = windowMs / buckets;
          const clock = manualClock(0);
          const counter = new SlidingCounter({ windowMs, buckets, clock });
          const events: number[] = [];
          for (const [gap, count] of steps) {
            clock.advance(gap);
            counter.add(count);
            for (let i = 0; i < count; i++) events.push(clock.now());
            const now = clock.now();
            const windowStart = (Math.floor(now / bucketMs) - buckets + 1) * bucketMs;
            expect(counter.total()).toBe(events.filter((at) => at >= windowStart).length);
            // And so: never older than windowMs, always everything younger than windowMs − bucketMs.
            expect(counter.total()).toBeLessThanOrEqual(events.filter((at) => now - at < windowMs).length);
            expect(counter.total()).toBeGreaterThanOrEqual(
              events.filter((at) => now - at < windowMs - bucketMs).length,
            );
          }
        },
      ),
    );
  });
});

/** A ratio on two windows of these options (its true-time and its watched time). */
function timeWeighted(options: SlidingWindowOptions, unseenAfterMs?: number): TimeWeightedRatio {
  return new TimeWeightedRatio(new SlidingCounter(options), new SlidingCounter(options), unseenAfterMs);
}

describe('TimeWeightedRatio', () => {
  it('is undefined before the first set and right after it', () => {
    const clock = manualClock();
    const ratio = timeWeighted({ windowMs: HOUR, clock });
    expect(ratio.ratio()).toBeUndefined();
    ratio.set(false);
    expect(ratio.ratio()).toBeUndefined();
    clock.advance(1);
    expect(ratio.ratio()).toBe(0);
  });

  it('weights by time, not by samples: 3 s open in a minute is 5 %', () => {
    const clock = manualClock(0);
    const ratio = timeWeighted({ windowMs: HOUR, clock });
    ratio.set(false);
    clock.advance(20_000);
    ratio.set(true);
    clock.advance(3000);
    ratio.set(false);
    clock.advance(37_000);
    expect(ratio.ratio()).toBeCloseTo(0.05, 12);
    expect(ratio.value).toBe(false);
  });

  it('divides by the time watched, not the whole window, while the window is not yet full', () => {
    const clock = manualClock(0);
    const ratio = timeWeighted({ windowMs: HOUR, clock });
    ratio.set(true);
    clock.advance(MINUTE);
    ratio.set(false);
    clock.advance(MINUTE);
    expect(ratio.ratio()).toBe(0.5);
  });

  it('counts time still running (true right now) up to now', () => {
    const clock = manualClock(0);
    const ratio = timeWeighted({ windowMs: HOUR, clock });
    ratio.set(false);
    clock.advance(3 * MINUTE);
    ratio.set(true);
    clock.advance(MINUTE);
    expect(ratio.ratio()).toBe(0.25);
    clock.advance(4 * MINUTE);
    expect(ratio.ratio()).toBe(5 / 8);
  });

  it('forgets time that left the window', () => {
    const clock = manualClock(0);
    const ratio = timeWeighted({ windowMs: HOUR, buckets: 60, clock });
    ratio.set(true);
    clock.advance(10 * MINUTE);
    ratio.set(false);
    clock.advance(2 * HOUR);
    expect(ratio.ratio()).toBe(0);
    ratio.set(true);
    clock.advance(HOUR + 30 * MINUTE); // true throughout the last window
    expect(ratio.ratio()).toBe(1);
  });

  it('reset() restarts the watch', () => {
    const clock = manualClock(0);
    const ratio = timeWeighted({ windowMs: HOUR, clock });
    ratio.set(true);
    clock.advance(MINUTE);
    ratio.reset();
    expect(ratio.ratio()).toBeUndefined();
    expect(ratio.value).toBe(false);
  });

  it('leaves a time longer than unseenAfterMs between two calls out of both the true and the watched time', () => {
    const clock = manualClock(0);
    const ratio = timeWeighted({ windowMs: HOUR, clock }, 2 * MINUTE);
    ratio.set(false);
    clock.advance(2 * MINUTE); // at most unseenAfterMs between calls: watched
    ratio.set(true);
    clock.advance(2 * MINUTE);
    expect(ratio.ratio()).toBe(0.5);
    clock.advance(30 * MINUTE); // asleep, true: no call for half an hour
    expect(ratio.ratio()).toBe(0.5);
    clock.advance(2 * MINUTE);
    expect(ratio.ratio()).toBeCloseTo(4 / 6, 12);
    ratio.set(false);
    clock.advance(3 * MINUTE); // asleep, false
    expect(ratio.ratio()).toBeCloseTo(4 / 6, 12);
    clock.advance(2 * MINUTE);
    expect(ratio.ratio()).toBe(0.5);
  });

  it('equals the exact time-weighted ratio over the window it reads (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 5000 }), fc.boolean()), { minLength: 1, maxLength: 60 }),
        fc.integer({ min: 1, max: 12 }),
        (steps, buckets) => {
          const windowMs = 12_000;
          const bucketMs = windowMs / buckets;
          const clock = manualClock(0);
          const ratio = timeWeighted({ windowMs, buckets, clock });
          const intervals: [number, number][] = []; // closed [start, end) true intervals
          let value = false;
          let since = 0;
          ratio.set(false);
          for (const [gap, next] of steps) {
            clock.advance(gap);
            const now = clock.now();
            if (value) intervals.push([since, now]);
            ratio.set(next);
            value = next;
            since = now;
            const windowStart = Math.max(0, (Math.floor(now / bucketMs) - buckets + 1) * bucketMs);
            const watched = now - windowStart;
            const trueMs = intervals.reduce(
              (sum, [start, end]) => sum + Math.max(0, end - Math.max(start, windowStart)),
              0,
            );
            const got = ratio.ratio();
            if (watched === 0) expect(got).toBeUndefined();
            else expect(got).toBeCloseTo(trueMs / watched, 9);
          }
        },
      ),
    );
  });
});

describe('a broken clock', () => {
  // Past 2^53 a bucket number no longer moves when incremented: the window
  // must still return (with figures as meaningless as the clock), not hang.
  it.each([Number.POSITIVE_INFINITY, 2 ** 60, 2 ** 53 * 1000])('returns at now() = %d', (now) => {
    const clock = { now: () => now };
    const counter = new SlidingCounter({ windowMs: 60_000, clock });
    counter.add(1);
    expect(Number.isNaN(counter.total()) || counter.total() >= 0).toBe(true);
    const ratio = timeWeighted({ windowMs: 60_000, clock });
    ratio.set(true);
    ratio.set(false);
    expect(() => ratio.ratio()).not.toThrow();
  });
});
