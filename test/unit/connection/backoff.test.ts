import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_BACKOFF, ExponentialBackoff, fullJitterDelay } from '../../../src/connection/backoff';
import { MAX_RETRY_AFTER_MS, MAX_TIMER_DELAY_MS } from '../../../src/util/timers';
import { seeded } from '../seeded-random';

/** Ceiling of attempt n with the defaults, written out independently of the implementation. */
function defaultCeiling(attempt: number): number {
  return [1000, 2000, 4000, 8000, 16_000][attempt] ?? 20_000;
}

describe('ExponentialBackoff', () => {
  it('has base/floor 500 ms and cap 20000 ms as defaults', () => {
    expect(DEFAULT_BACKOFF).toEqual({ baseMs: 500, floorMs: 500, capMs: 20_000 });
  });

  it('waits by the base, floor and cap it was given', () => {
    // Each number shows apart: floor 50, then windows up to 2·base = 200, 4·base = 400, the cap 300.
    const backoff = new ExponentialBackoff({ baseMs: 100, floorMs: 50, capMs: 300, random: () => 1 });
    expect(new ExponentialBackoff({ baseMs: 100, floorMs: 50, capMs: 300, random: () => 0 }).next()).toBe(50);
    expect([backoff.next(), backoff.next(), backoff.next()]).toEqual([200, 300, 300]);
  });

  it.each([0, 0.5, 0.999_999_999])(
    'gives floor + r·(ceiling − floor) for every attempt up to 10,000 (r = %s)',
    (r) => {
      const backoff = new ExponentialBackoff({ ...DEFAULT_BACKOFF, random: () => r });
      for (let attempt = 0; attempt <= 10_000; attempt++) {
        const delay = backoff.next();
        const expected = 500 + r * (defaultCeiling(attempt) - 500);
        if (delay !== expected) expect({ attempt, delay }).toEqual({ attempt, delay: expected });
        if (!(Number.isFinite(delay) && delay >= 500 && delay <= 20_000)) {
          expect.fail(`attempt ${attempt}: ${delay} outside [500, 20000]`);
        }
      }
    },
  );

  it('spreads attempt 0 over [floor, 2·base] so a herd does not come back at one instant', () => {
    expect(new ExponentialBackoff({ ...DEFAULT_BACKOFF, random: () => 0 }).next()).toBe(500);
    expect(new ExponentialBackoff({ ...DEFAULT_BACKOFF, random: () => 0.5 }).next()).toBe(750);
    expect(new ExponentialBackoff({ ...DEFAULT_BACKOFF, random: () => 0.999 }).next()).toBeCloseTo(999.5, 6);
  });

  it('keeps delays finite and within [floor, cap] at 2^31 attempts and beyond', () => {
    for (const attempt of [5000, 2 ** 31, 2 ** 31 + 1, 2 ** 53, Number.MAX_VALUE, Number.POSITIVE_INFINITY]) {
      expect(fullJitterDelay(attempt, 0, DEFAULT_BACKOFF)).toBe(500);
      expect(fullJitterDelay(attempt, 0.5, DEFAULT_BACKOFF)).toBe(10_250);
      expect(fullJitterDelay(attempt, 0.999_999, DEFAULT_BACKOFF)).toBeCloseTo(19_999.98, 1);
    }
  });

  it('stays finite for an unvalidated base of 0 at 2^31 attempts (0 · 2^31, never 0 · Infinity)', () => {
    const shape = { baseMs: 0, floorMs: 0, capMs: 1000 };
    for (const attempt of [2 ** 31, Number.MAX_SAFE_INTEGER, Number.POSITIVE_INFINITY]) {
      expect(fullJitterDelay(attempt, 0.5, shape)).toBe(0);
    }
  });

  it('treats NaN or negative attempts as 0 and clamps a draw outside [0, 1]', () => {
    expect(fullJitterDelay(Number.NaN, 1, DEFAULT_BACKOFF)).toBe(1000);
    expect(fullJitterDelay(-5, 1, DEFAULT_BACKOFF)).toBe(1000);
    expect(fullJitterDelay(10, 7, DEFAULT_BACKOFF)).toBe(20_000);
    expect(fullJitterDelay(10, -1, DEFAULT_BACKOFF)).toBe(500);
    expect(fullJitterDelay(10, Number.NaN, DEFAULT_BACKOFF)).toBe(500);
  });

  it('stays within [floor, cap] with a broken random source', () => {
    for (const value of [Number.NaN, -3, 2, Number.POSITIVE_INFINITY]) {
      const backoff = new ExponentialBackoff({ ...DEFAULT_BACKOFF, random: () => value });
      for (let i = 0; i < 50; i++) {
        const delay = backoff.next();
        expect(delay).toBeGreaterThanOrEqual(500);
        expect(delay).toBeLessThanOrEqual(20_000);
      }
    }
  });

  it('property: every delay is finite, within [floor, cap], and its window never shrinks', () => {
    const shape = fc
      .record({
        baseMs: fc.double({ min: 1, max: 1e6, noNaN: true }),
        floorMs: fc.double({ min: 0, max: 1e6, noNaN: true }),
        capExtraMs: fc.double({ min: 0, max: 1e7, noNaN: true }),
      })
      .map(({ baseMs, floorMs, capExtraMs }) => ({
        baseMs,
        floorMs,
        capMs: Math.min(Math.max(baseMs, floorMs) + capExtraMs, MAX_TIMER_DELAY_MS),
      }));
    fc.assert(
      fc.property(
        shape,
        fc.oneof(fc.nat({ max: 64 }), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER })),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (options, attempt, r) => {
          const delay = fullJitterDelay(attempt, r, options);
          expect(Number.isFinite(delay)).toBe(true);
          expect(delay).toBeGreaterThanOrEqual(options.floorMs);
          expect(delay).toBeLessThanOrEqual(options.capMs);
          expect(fullJitterDelay(attempt + 1, r, options)).toBeGreaterThanOrEqual(delay);
          // A backoff made with these options hands out exactly these delays, attempt by attempt.
          const backoff = new ExponentialBackoff({ ...options, random: () => r });
          expect([backoff.next(), backoff.next()]).toEqual([
            fullJitterDelay(0, r, options),
            fullJitterDelay(1, r, options),
          ]);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('keeps the jitter spread over [floor, cap] at attempt 5000', () => {
    const backoff = new ExponentialBackoff({ ...DEFAULT_BACKOFF, random: seeded(42) });
    for (let i = 0; i < 5000; i++) backoff.next();
    const bins = new Array<number>(10).fill(0);
    const samples = 20_000;
    for (let i = 0; i < samples; i++) {
      const delay = backoff.next();
      bins[Math.min(9, Math.floor((delay - 500) / 1950))]! += 1;
    }
    // Uniform over [500, 20000]: each tenth of the window holds about 10 %.
    for (const count of bins) {
      expect(count / samples).toBeGreaterThan(0.09);
      expect(count / samples).toBeLessThan(0.11);
    }
  });

  it('draws once per attempt and counts it', () => {
    const draws = [0.25, 0.75];
    const backoff = new ExponentialBackoff({ ...DEFAULT_BACKOFF, random: () => draws.shift() ?? 0 });
    // The window of attempt 0 (500–1000 ms), then that of attempt 1 (500–2000 ms).
    expect(backoff.next()).toBe(625);
    expect(backoff.next()).toBe(500 + 0.75 * 1500);
  });

  it('reset goes back to attempt 0 with a fresh draw', () => {
    const draws = [0.5, 0.5, 0.5, 0.1];
    const backoff = new ExponentialBackoff({ ...DEFAULT_BACKOFF, random: () => draws.shift() ?? 0 });
    backoff.next();
    backoff.next();
    backoff.next();
    backoff.reset();
    // The window of attempt 0 again: 500–1000 ms.
    expect(backoff.next()).toBe(500 + 0.1 * 500);
  });

  describe('next(minimumMs) for a server retryAfterMs', () => {
    it('waits the server minimum when it exceeds the jittered delay', () => {
      const backoff = new ExponentialBackoff({ ...DEFAULT_BACKOFF, random: () => 0.5 });
      expect(backoff.next(5000)).toBe(5000);
      // The attempt still counted: the next delay is drawn in the window of attempt 1.
      expect(backoff.next()).toBe(500 + 0.5 * 1500);
    });

    it('keeps the jittered delay when the server asks for less', () => {
      const backoff = new ExponentialBackoff({ ...DEFAULT_BACKOFF, random: () => 0.5 });
      expect(backoff.next(100)).toBe(750);
    });

    it('honours a minimum above the cap', () => {
      expect(new ExponentialBackoff({ ...DEFAULT_BACKOFF, random: () => 0 }).next(120_000)).toBe(120_000);
    });

    it.each([Number.NaN, -1])('ignores a malformed minimum (%s)', (minimum) => {
      expect(new ExponentialBackoff({ ...DEFAULT_BACKOFF, random: () => 0.5 }).next(minimum)).toBe(750);
    });

    // A proxy's `Retry-After: 86400` must not keep realtime away for a day.
    it.each([86_400_000, 1e12, Number.POSITIVE_INFINITY])(
      'caps a huge minimum (%s) at 5 minutes',
      (minimum) => {
        expect(new ExponentialBackoff({ ...DEFAULT_BACKOFF, random: () => 0.5 }).next(minimum)).toBe(
          MAX_RETRY_AFTER_MS,
        );
      },
    );
  });

  describe('options', () => {
    it('accepts a floor below the base and a cap equal to the base', () => {
      const backoff = new ExponentialBackoff({ baseMs: 1000, floorMs: 0, capMs: 1000, random: () => 0.5 });
      expect(backoff.next()).toBe(500);
      expect(backoff.next()).toBe(500);
    });

    it('lifts the window to the floor when the floor is above 2·base', () => {
      const backoff = new ExponentialBackoff({ baseMs: 100, floorMs: 1000, capMs: 5000, random: () => 0.5 });
      expect(backoff.next()).toBe(1000); // ceiling 200 < floor: no window
      expect(backoff.next()).toBe(1000); // 400
      expect(backoff.next()).toBe(1000); // 800
      expect(backoff.next()).toBe(1000 + 0.5 * 600); // 1600
    });
  });
});
