import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  CircuitBreaker,
  type CircuitBreakerOptions,
  type CircuitState,
  DEFAULT_CIRCUIT,
} from '../../../src/connection/circuit-breaker';
import { FakeClock } from './fake-clock';

function setup(options: Partial<Omit<CircuitBreakerOptions, 'clock'>> = {}) {
  const clock = new FakeClock();
  clock.advance(10_000); // so openedAt is not a trivial 0
  const breaker = new CircuitBreaker({ ...DEFAULT_CIRCUIT, ...options, clock });
  /** The state each change moved to, as the listener was told. */
  const changes: CircuitState[] = [];
  breaker.onStateChange((to) => changes.push(to));
  const fail = (times: number): void => {
    for (let i = 0; i < times; i++) breaker.recordFailure();
  };
  return { clock, breaker, changes, fail };
}

/** Checks that `breaker`, open now, turns half-open exactly `cooldownMs` later (and lets that time pass). */
function expectCooldown(breaker: CircuitBreaker, clock: FakeClock, cooldownMs: number): void {
  expect(breaker.snapshot().state).toBe('open');
  clock.advance(cooldownMs - 1);
  expect(breaker.snapshot().state).toBe('open');
  clock.advance(1);
  expect(breaker.snapshot().state).toBe('half-open');
}

describe('CircuitBreaker', () => {
  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllGlobals();
  });

  describe('closed', () => {
    it('starts closed with the defaults', () => {
      const { breaker } = setup();
      expect(breaker.snapshot().state).toBe('closed');
      expect(breaker.snapshot()).toStrictEqual({ state: 'closed', consecutiveFailures: 0 });
    });

    it('lets every attempt through', () => {
      const { breaker } = setup();
      for (let i = 0; i < 5; i++) expect(breaker.tryAcquire()).toBe(true);
    });

    it('counts failures and stays closed below the threshold', () => {
      const { breaker, changes, fail } = setup();
      fail(2);
      expect(breaker.snapshot().state).toBe('closed');
      expect(breaker.snapshot().consecutiveFailures).toBe(2);
      expect(breaker.tryAcquire()).toBe(true);
      expect(changes).toEqual([]);
    });

    it('opens on the third consecutive failure by default, at clock.now()', () => {
      const { breaker, changes, clock, fail } = setup();
      fail(3);
      expect(breaker.snapshot().state).toBe('open');
      expect(breaker.snapshot()).toStrictEqual({
        state: 'open',
        consecutiveFailures: 3,
        openedAt: clock.now(),
      });
      expect(changes).toStrictEqual(['open']);
    });

    it('resets the count on a success, so only consecutive failures open it', () => {
      const { breaker, fail } = setup();
      fail(2);
      breaker.recordSuccess();
      expect(breaker.snapshot().consecutiveFailures).toBe(0);
      fail(2);
      expect(breaker.snapshot().state).toBe('closed');
      fail(1);
      expect(breaker.snapshot().state).toBe('open');
    });

    it('opens on the first failure with failureThreshold 1', () => {
      const { breaker, fail } = setup({ failureThreshold: 1 });
      fail(1);
      expect(breaker.snapshot().state).toBe('open');
    });
  });

  describe('open', () => {
    it('refuses attempts', () => {
      const { breaker, fail } = setup();
      fail(3);
      for (let i = 0; i < 5; i++) expect(breaker.tryAcquire()).toBe(false);
    });

    it('turns half-open on a timer exactly when the cooldown ends', () => {
      const { breaker, changes, clock, fail } = setup();
      fail(3);
      const openedAt = clock.now();
      clock.advance(999);
      expect(breaker.snapshot().state).toBe('open');
      clock.advance(1);
      expect(breaker.snapshot()).toStrictEqual({ state: 'half-open', consecutiveFailures: 3, openedAt });
      expect(changes).toStrictEqual(['open', 'half-open']);
      expect(clock.pending).toBe(0);
    });

    it('counts a late failure without moving the timer', () => {
      const { breaker, changes, clock, fail } = setup();
      fail(3);
      clock.advance(500);
      fail(1);
      expect(breaker.snapshot().consecutiveFailures).toBe(4);
      expect(breaker.snapshot().state).toBe('open');
      clock.advance(500);
      expect(breaker.snapshot().state).toBe('half-open');
      expect(changes).toEqual(['open', 'half-open']);
    });

    it('ignores a late success', () => {
      const { breaker, clock, fail } = setup();
      fail(3);
      breaker.recordSuccess();
      expect(breaker.snapshot().state).toBe('open');
      expect(breaker.snapshot().consecutiveFailures).toBe(3);
      clock.advance(1000);
      expect(breaker.snapshot().state).toBe('half-open');
    });
  });

  describe('half-open', () => {
    function halfOpen(options: Partial<Omit<CircuitBreakerOptions, 'clock'>> = {}) {
      const context = setup(options);
      context.fail(options.failureThreshold ?? 3);
      context.clock.advance(options.cooldownMs ?? DEFAULT_CIRCUIT.cooldownMs);
      expect(context.breaker.snapshot().state).toBe('half-open');
      return context;
    }

    it('allows exactly one probe among concurrent callers', () => {
      const { breaker } = halfOpen();
      const grants = Array.from({ length: 10 }, () => breaker.tryAcquire());
      expect(grants.filter(Boolean)).toHaveLength(1);
      expect(grants[0]).toBe(true);
    });

    it('closes on the probe success and resets count, openedAt and cooldown', () => {
      const { breaker, changes, clock } = halfOpen();
      // Grow the cooldown first, so the reset is visible.
      breaker.tryAcquire();
      breaker.recordFailure();
      clock.advance(2000);
      expect(breaker.tryAcquire()).toBe(true);
      breaker.recordSuccess();
      expect(breaker.snapshot()).toStrictEqual({ state: 'closed', consecutiveFailures: 0 });
      expect(changes.slice(-2)).toStrictEqual(['half-open', 'closed']);
      expect(breaker.tryAcquire()).toBe(true);
      expect(breaker.tryAcquire()).toBe(true);
      // The next opening has the first cooldown again.
      for (let i = 0; i < 3; i++) breaker.recordFailure();
      expectCooldown(breaker, clock, 1000);
    });

    it('reopens on the probe failure with the cooldown doubled', () => {
      const { breaker, changes, clock } = halfOpen();
      breaker.tryAcquire();
      breaker.recordFailure();
      expect(breaker.snapshot()).toStrictEqual({
        state: 'open',
        consecutiveFailures: 4,
        openedAt: clock.now(),
      });
      expect(changes.slice(-2)).toStrictEqual(['half-open', 'open']);
      expect(breaker.tryAcquire()).toBe(false);
      expectCooldown(breaker, clock, 2000);
    });

    it('grows the cooldown 1000 → 2000 → … → 60000 and stays at the cap', () => {
      const { breaker, clock, fail } = setup();
      fail(3);
      for (const cooldownMs of [1000, 2000, 4000, 8000, 16_000, 32_000, 60_000, 60_000, 60_000]) {
        expectCooldown(breaker, clock, cooldownMs);
        expect(breaker.tryAcquire()).toBe(true);
        breaker.recordFailure();
      }
    });

    it('uses the first cooldown again after recovering', () => {
      const { breaker, clock, fail } = halfOpen();
      breaker.tryAcquire();
      breaker.recordFailure();
      clock.advance(2000);
      breaker.tryAcquire();
      breaker.recordSuccess();
      fail(3);
      expectCooldown(breaker, clock, 1000);
    });

    it('respects a custom maxCooldownMs that is not a power-of-two multiple', () => {
      const { breaker, clock } = halfOpen({ cooldownMs: 1000, maxCooldownMs: 3000 });
      for (const cooldownMs of [2000, 3000, 3000]) {
        breaker.tryAcquire();
        breaker.recordFailure();
        expectCooldown(breaker, clock, cooldownMs);
      }
    });

    it('treats any failure or success in half-open as the probe outcome', () => {
      const first = halfOpen();
      first.breaker.recordFailure();
      expectCooldown(first.breaker, first.clock, 2000);
      const second = halfOpen();
      second.breaker.recordSuccess();
      expect(second.breaker.snapshot().state).toBe('closed');
    });

    it('hands the probe back with releaseProbe', () => {
      const { breaker } = halfOpen();
      expect(breaker.tryAcquire()).toBe(true);
      expect(breaker.tryAcquire()).toBe(false);
      breaker.releaseProbe();
      expect(breaker.snapshot().state).toBe('half-open');
      expect(breaker.tryAcquire()).toBe(true);
      expect(breaker.tryAcquire()).toBe(false);
    });

    it('grants a new probe after each reopening', () => {
      const { breaker, clock } = halfOpen();
      expect(breaker.tryAcquire()).toBe(true);
      breaker.recordFailure();
      clock.advance(2000);
      expect(breaker.tryAcquire()).toBe(true);
    });
  });

  describe('reset', () => {
    it('closes an open breaker, clears its timer and tells the listeners', () => {
      const { breaker, changes, clock, fail } = setup();
      fail(3);
      breaker.reset();
      expect(breaker.snapshot()).toStrictEqual({ state: 'closed', consecutiveFailures: 0 });
      expect(clock.pending).toBe(0);
      expect(changes).toEqual(['open', 'closed']);
      clock.advance(5000);
      expect(breaker.snapshot().state).toBe('closed');
    });

    it('clears the count of a closed breaker without an event', () => {
      const { breaker, changes, fail } = setup();
      fail(2);
      breaker.reset();
      expect(breaker.snapshot().consecutiveFailures).toBe(0);
      expect(changes).toEqual([]);
    });

    it('restores the first cooldown', () => {
      const { breaker, clock, fail } = setup();
      fail(3);
      clock.advance(1000);
      breaker.recordFailure(); // probe failed: 2000
      breaker.reset();
      fail(3);
      expectCooldown(breaker, clock, 1000);
    });
  });

  describe('dispose', () => {
    it('stops the timer, so the state no longer moves', () => {
      const { breaker, changes, clock, fail } = setup();
      fail(3);
      expect(clock.pending).toBe(1);
      breaker.dispose();
      expect(clock.pending).toBe(0);
      clock.advance(60_000);
      expect(breaker.snapshot().state).toBe('open');
      expect(changes).toHaveLength(1);
    });

    it('leaves the breaker inert', () => {
      const { breaker, changes, clock, fail } = setup();
      breaker.dispose();
      fail(10);
      breaker.recordSuccess();
      breaker.reset();
      expect(breaker.snapshot().state).toBe('closed');
      expect(breaker.tryAcquire()).toBe(false);
      expect(clock.pending).toBe(0);
      expect(changes).toEqual([]);
    });
  });

  describe('onStateChange', () => {
    it('calls listeners in subscription order, after the state changed', () => {
      const { breaker, fail } = setup();
      const calls: string[] = [];
      breaker.onStateChange((to) => calls.push(`a:${to}:${breaker.snapshot().state}`));
      breaker.onStateChange((to) => calls.push(`b:${to}:${breaker.snapshot().state}`));
      fail(3);
      expect(calls).toEqual(['a:open:open', 'b:open:open']);
    });

    it('reports the full cycle closed → open → half-open → open → half-open → closed', () => {
      const { breaker, changes, clock, fail } = setup();
      fail(3);
      expectCooldown(breaker, clock, 1000);
      breaker.tryAcquire();
      breaker.recordFailure();
      expectCooldown(breaker, clock, 2000);
      breaker.tryAcquire();
      breaker.recordSuccess();
      expect(changes).toEqual(['open', 'half-open', 'open', 'half-open', 'closed']);
    });

    it('unsubscribes', () => {
      const { breaker, fail } = setup();
      const listener = vi.fn();
      const off = breaker.onStateChange(listener);
      off();
      fail(3);
      expect(listener).not.toHaveBeenCalled();
    });

    it('keeps working when a listener throws', () => {
      const reportError = vi.fn();
      vi.stubGlobal('reportError', reportError);
      const { breaker, changes, fail } = setup();
      breaker.onStateChange(() => {
        throw new Error('app bug');
      });
      const after = vi.fn();
      breaker.onStateChange(after);
      fail(3);
      expect(breaker.snapshot().state).toBe('open');
      expect(changes).toHaveLength(1);
      expect(after).toHaveBeenCalledOnce();
      expect(reportError).toHaveBeenCalledOnce();
    });
  });

  describe('options', () => {
    it('accepts maxCooldownMs equal to cooldownMs (no growth)', () => {
      const { breaker, clock, fail } = setup({ cooldownMs: 500, maxCooldownMs: 500 });
      fail(3);
      clock.advance(500);
      breaker.recordFailure();
      expectCooldown(breaker, clock, 500);
    });
  });
});
