import { describe, expect, it, vi } from 'vitest';
import type { Clock } from '../../../src/clock';
import { Timer } from '../../../src/connection/timer';
import { FakeClock } from './fake-clock';

describe('Timer', () => {
  it('fires once after the delay', () => {
    const clock = new FakeClock();
    const fn = vi.fn();
    new Timer(clock).set(fn, 100);
    clock.advance(99);
    expect(fn).not.toHaveBeenCalled();
    clock.advance(1);
    expect(fn).toHaveBeenCalledOnce();
    clock.advance(1000);
    expect(fn).toHaveBeenCalledOnce();
  });

  it('replaces the pending timer on set', () => {
    const clock = new FakeClock();
    const timer = new Timer(clock);
    const first = vi.fn();
    const second = vi.fn();
    timer.set(first, 100);
    timer.set(second, 200);
    expect(clock.pending).toBe(1);
    clock.advance(1000);
    expect(first).not.toHaveBeenCalled();
    expect(second).toHaveBeenCalledOnce();
  });

  it('clears the pending timer, and never a handle that already fired', () => {
    const fake = new FakeClock();
    const clearTimeout = vi.fn((handle: unknown) => fake.clearTimeout(handle));
    const clock: Clock = {
      now: () => fake.now(),
      setTimeout: (fn, ms) => fake.setTimeout(fn, ms),
      clearTimeout,
    };
    const timer = new Timer(clock);
    const fn = vi.fn();
    timer.clear();
    expect(clearTimeout).not.toHaveBeenCalled();
    timer.set(fn, 100);
    timer.clear();
    expect(clearTimeout).toHaveBeenCalledOnce();
    fake.advance(1000);
    expect(fn).not.toHaveBeenCalled();
    // A clock may reuse a fired timer's handle: clearing after the fire must not touch it.
    timer.set(fn, 100);
    fake.advance(100);
    timer.clear();
    timer.set(fn, 100);
    expect(clearTimeout).toHaveBeenCalledOnce();
    expect(fake.pending).toBe(1);
  });

  it('can be set again from its own callback', () => {
    const clock = new FakeClock();
    const timer = new Timer(clock);
    let fired = 0;
    const tick = (): void => {
      fired += 1;
      if (fired < 3) timer.set(tick, 10);
    };
    timer.set(tick, 10);
    clock.advance(100);
    expect(fired).toBe(3);
    expect(clock.pending).toBe(0);
  });
});
