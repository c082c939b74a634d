import { afterEach, describe, expect, it, vi } from 'vitest';
import { HEARTBEAT_TIMEOUT_INTERVALS, HeartbeatWatchdog } from '../../../src/connection/heartbeat-watchdog';
import { FakeClock } from './fake-clock';

/** `frozen`: the watchdog's timers never fire, as in a frozen page, so only `isOverdue` can tell. */
function setup({ frozen = false } = {}) {
  const clock = new FakeClock();
  clock.advance(1000);
  const onDead = vi.fn<() => void>();
  const timers = frozen ? { now: () => clock.now(), setTimeout: () => 0, clearTimeout: () => {} } : clock;
  const watchdog = new HeartbeatWatchdog({ onDead, clock: timers });
  return { clock, onDead, watchdog };
}

describe('HeartbeatWatchdog', () => {
  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllGlobals();
  });

  it('tolerates two intervals plus half an interval of silence', () => {
    expect(HEARTBEAT_TIMEOUT_INTERVALS).toBe(2.5);
    const { clock, watchdog } = setup({ frozen: true });
    watchdog.start(1000);
    clock.advance(2499);
    expect(watchdog.isOverdue()).toBe(false);
    clock.advance(1);
    expect(watchdog.isOverdue()).toBe(true);
  });

  it('calls onDead exactly at 2.5 intervals of silence, once', () => {
    const { clock, onDead, watchdog } = setup();
    watchdog.start(1000);
    clock.advance(2499);
    expect(onDead).not.toHaveBeenCalled();
    clock.advance(1);
    expect(onDead).toHaveBeenCalledOnce();
    clock.advance(60_000);
    expect(onDead).toHaveBeenCalledOnce();
    expect(clock.pending).toBe(0);
    // No longer watching: never overdue, however long the silence.
    expect(watchdog.isOverdue()).toBe(false);
  });

  it('is kept alive by beats, measuring the silence from the last one', () => {
    const { clock, onDead, watchdog } = setup();
    watchdog.start(1000);
    for (let i = 0; i < 10; i++) {
      clock.advance(2000);
      watchdog.beat();
    }
    expect(onDead).not.toHaveBeenCalled();
    clock.advance(2499);
    expect(onDead).not.toHaveBeenCalled();
    clock.advance(1);
    expect(onDead).toHaveBeenCalledOnce();
  });

  it('after a beat, dies 2.5 intervals after that beat, not a full timeout after the timer woke', () => {
    const { clock, onDead, watchdog } = setup();
    watchdog.start(1000);
    clock.advance(1000);
    watchdog.beat();
    clock.advance(2499); // the first timer fired at 2500 and found the beat
    expect(onDead).not.toHaveBeenCalled();
    clock.advance(1);
    expect(onDead).toHaveBeenCalledOnce();
  });

  it('keeps a single timer however many frames arrive', () => {
    const { clock, watchdog } = setup();
    watchdog.start(1000);
    const armed = clock.delays.length;
    for (let i = 0; i < 1000; i++) {
      clock.advance(1);
      watchdog.beat();
    }
    expect(clock.pending).toBe(1);
    // Re-armed once, when the first timer found the beats, not once per beat.
    expect(clock.delays.length - armed).toBe(0);
    clock.advance(1500);
    expect(clock.delays.length - armed).toBe(1);
    expect(clock.pending).toBe(1);
  });

  it('does not call onDead after stop()', () => {
    const { clock, onDead, watchdog } = setup();
    watchdog.start(1000);
    watchdog.stop();
    expect(clock.pending).toBe(0);
    clock.advance(10_000);
    expect(onDead).not.toHaveBeenCalled();
    expect(watchdog.isOverdue()).toBe(false);
  });

  it('is not started by beats while stopped', () => {
    const { clock, onDead, watchdog } = setup();
    watchdog.beat();
    watchdog.start(1000);
    watchdog.stop();
    clock.advance(500);
    watchdog.beat();
    expect(clock.pending).toBe(0);
    clock.advance(60_000);
    expect(onDead).not.toHaveBeenCalled();
    expect(watchdog.isOverdue()).toBe(false);
  });

  it('restarts with a new interval, counting the start as a beat', () => {
    const { clock, onDead, watchdog } = setup();
    watchdog.start(1000);
    clock.advance(2000);
    watchdog.start(4000);
    expect(clock.pending).toBe(1);
    clock.advance(9999);
    expect(onDead).not.toHaveBeenCalled();
    clock.advance(1);
    expect(onDead).toHaveBeenCalledOnce();
  });

  it('can be started again after onDead', () => {
    const { clock, onDead, watchdog } = setup();
    watchdog.start(100);
    clock.advance(250);
    watchdog.start(100);
    clock.advance(250);
    expect(onDead).toHaveBeenCalledTimes(2);
  });

  describe('after freeze or the back/forward cache (timers did not run)', () => {
    it('isOverdue compares the clock', () => {
      const { clock, watchdog } = setup({ frozen: true });
      watchdog.start(1000);
      expect(watchdog.isOverdue()).toBe(false);
      clock.advance(2499);
      expect(watchdog.isOverdue()).toBe(false);
      clock.advance(1);
      expect(watchdog.isOverdue()).toBe(true);
    });

    it('isOverdue is false while stopped', () => {
      const { clock, watchdog } = setup({ frozen: true });
      clock.advance(1e9);
      expect(watchdog.isOverdue()).toBe(false);
      watchdog.start(1000);
      watchdog.stop();
      clock.advance(1e9);
      expect(watchdog.isOverdue()).toBe(false);
    });

    it('isOverdue tells from the clock alone when timers did not run', () => {
      const clock = new FakeClock();
      const onDead = vi.fn();
      // A clock whose timers never fire, as in a frozen page.
      const frozen = { now: () => clock.now(), setTimeout: () => 0, clearTimeout: () => {} };
      const watchdog = new HeartbeatWatchdog({ onDead, clock: frozen });
      watchdog.start(1000);
      clock.advance(2000);
      expect(watchdog.isOverdue()).toBe(false);
      clock.advance(60_000);
      expect(watchdog.isOverdue()).toBe(true);
      expect(onDead).not.toHaveBeenCalled();
    });
  });

  it('reports a throwing onDead and still stops', () => {
    const reportError = vi.fn();
    vi.stubGlobal('reportError', reportError);
    const clock = new FakeClock();
    const watchdog = new HeartbeatWatchdog({
      clock,
      onDead: () => {
        throw new Error('app bug');
      },
    });
    watchdog.start(100);
    expect(() => clock.advance(250)).not.toThrow();
    expect(reportError).toHaveBeenCalledOnce();
    clock.advance(1e9);
    expect(watchdog.isOverdue()).toBe(false);
  });

  describe('validation', () => {
    it.each([0, -1, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 31])(
      'start rejects heartbeatMs %s',
      (value) => {
        const { clock, watchdog } = setup();
        expect(() => watchdog.start(value)).toThrow(RangeError);
        expect(() => watchdog.start(value)).toThrow(/^heartbeatMs must be a finite number ≥ 1/);
        expect(clock.pending).toBe(0);
        clock.advance(1e9);
        expect(watchdog.isOverdue()).toBe(false);
      },
    );

    // docs/options.md: the `production` build trusts its caller, the
    // connection loop, which starts it with the welcome's `heartbeatMs` as
    // the frame reader checked it (a positive integer), held to the timer limit.
    describe('in the production build', () => {
      afterEach(() => {
        vi.unstubAllEnvs();
      });

      it('no longer refuses a heartbeatMs out of range', () => {
        vi.stubEnv('NODE_ENV', 'production');
        const { onDead, watchdog } = setup();
        expect(() => watchdog.start(0)).not.toThrow();
        // Not checked, 0 is a timeout of 0: dead at once.
        expect(onDead).toHaveBeenCalledOnce();
      });

      // The largest: what the loop holds a longer one to (the timer limit / 2.5).
      it.each([1, 1000, 2_147_483_647 / HEARTBEAT_TIMEOUT_INTERVALS])(
        'times heartbeatMs %s as the default build does',
        (heartbeatMs) => {
          const deadAt = (mode: string) => {
            vi.stubEnv('NODE_ENV', mode);
            const { clock, onDead, watchdog } = setup();
            watchdog.start(heartbeatMs);
            clock.advance(heartbeatMs * HEARTBEAT_TIMEOUT_INTERVALS - 1);
            const early = onDead.mock.calls.length;
            clock.advance(1);
            return [early, onDead.mock.calls.length];
          };
          expect(deadAt('production')).toEqual(deadAt('test'));
          expect(deadAt('production')).toEqual([0, 1]);
        },
      );
    });
  });
});
