import { describe, expect, it } from 'vitest';
import type { Clock } from '../../../src/clock';
import {
  DEFAULT_ROLLBACK_THRESHOLDS,
  RollbackGuard,
  type RollbackVerdict,
  resolveRollbackThresholds,
} from '../../../src/observability/rollback-guard';
import { FakeClock } from '../connection/fake-clock';

function manualClock(): Clock & { advance(ms: number): void } {
  let now = 1_000_000;
  return {
    now: () => now,
    setTimeout: () => 0,
    clearTimeout: () => {},
    advance(ms: number) {
      now += ms;
    },
  };
}

function guard(thresholds = {}) {
  const clock = manualClock();
  const changes: RollbackVerdict[] = [];
  const g = new RollbackGuard({
    clock,
    thresholds: resolveRollbackThresholds(thresholds),
    onChange: (v) => changes.push(v),
  });
  return { g, clock, changes };
}

/** `ms` of an awake, active tab: the client evaluates the guard every 10 s. */
function awake(g: RollbackGuard, clock: { advance(ms: number): void }, ms: number): void {
  for (let left = ms; left > 0; left -= 10_000) {
    clock.advance(Math.min(10_000, left));
    if (left > 10_000) g.evaluate();
  }
}

describe('RollbackGuard', () => {
  it('says nothing before minSamples frames, whatever the errors', () => {
    const { g } = guard();
    for (let i = 0; i < 19; i++) g.recordFrames(0, 1);
    expect(g.verdict()).toEqual({ state: 'ok' });
    g.recordFrames(0, 1);
    expect(g.verdict()).toMatchObject({ state: 'tripped', reason: 'error_rate' });
  });

  it('trips above a 5 % rate of invalid frames and stays off for the session by default', () => {
    const { g, clock, changes } = guard();
    g.recordFrames(95, 0);
    for (let i = 0; i < 5; i++) g.recordFrames(0, 1);
    // 5 invalid of 100 frames: exactly 5 % is not above it, but above 2 %.
    expect(g.verdict().state).toBe('degraded');
    g.recordFrames(0, 1);
    const verdict = g.verdict();
    expect(verdict).toMatchObject({ state: 'tripped', reason: 'error_rate' });
    expect(verdict.until).toBeUndefined();
    clock.advance(24 * 3_600_000);
    expect(g.verdict().state).toBe('tripped');
    expect(changes.map((c) => c.state)).toEqual(['degraded', 'tripped']);
  });

  it('reports degraded between 2 % and 5 %, and ok again below', () => {
    const { g, clock, changes } = guard({ windowMs: 60_000 });
    g.recordFrames(97, 3);
    g.evaluate();
    expect(g.verdict()).toMatchObject({ state: 'degraded', errorRate: 0.03 });
    clock.advance(61_000);
    g.recordFrames(100, 0);
    g.evaluate();
    expect(g.verdict()).toMatchObject({ state: 'ok', errorRate: 0 });
    expect(changes.map((c) => c.state)).toEqual(['degraded', 'ok']);
  });

  it('trips when the circuit stays open longer than 5 minutes, not at exactly 5', () => {
    const { g, clock } = guard();
    g.circuitOpen(true);
    awake(g, clock, 300_000);
    expect(g.evaluate().state).toBe('ok');
    clock.advance(1);
    expect(g.evaluate()).toMatchObject({ state: 'tripped', reason: 'circuit_open' });
  });

  // A laptop's lid closed just after its network went (the circuit opened):
  // nobody evaluates while it sleeps, and the hours asleep are no open
  // circuit the guard saw. Counted, the first tick after waking tripped
  // `circuit_open` before any probe ran, for the rest of the session.
  it('does not count a time nobody evaluated (the page asleep or frozen) as open', () => {
    const { g, clock } = guard();
    g.circuitOpen(true);
    awake(g, clock, 60_000);
    clock.advance(3 * 3_600_000);
    expect(g.evaluate().state).toBe('ok');
    // Still open when awake: 50 s seen before + 240 s after is not above 5 min...
    awake(g, clock, 240_000);
    expect(g.evaluate().state).toBe('ok');
    // ...and trips once the time seen open is.
    awake(g, clock, 20_000);
    expect(g.evaluate()).toMatchObject({ state: 'tripped', reason: 'circuit_open' });
  });

  // A tab idle for a while (nothing evaluates it) whose loop starts again
  // with the breaker its last run left open: the circuit opens for the guard
  // at that start. The time unseen before it is none of the open time, which
  // must not start in the future and hide the outage that long.
  it('counts the open time of a circuit that opens after a time nobody evaluated', () => {
    const { g, clock } = guard();
    clock.advance(3_600_000);
    g.circuitOpen(true);
    awake(g, clock, 300_000);
    expect(g.evaluate().state).toBe('ok');
    clock.advance(1);
    expect(g.evaluate()).toMatchObject({ state: 'tripped', reason: 'circuit_open' });
  });

  it('counts a background tab evaluated once a minute (timer throttling) as seen', () => {
    const { g, clock } = guard();
    g.circuitOpen(true);
    for (let i = 0; i < 5; i++) {
      clock.advance(60_000);
      expect(g.evaluate().state).toBe('ok');
    }
    clock.advance(60_000);
    expect(g.evaluate()).toMatchObject({ state: 'tripped', reason: 'circuit_open' });
  });

  it('forgets an open circuit that closed', () => {
    const { g, clock } = guard();
    g.circuitOpen(true);
    clock.advance(200_000);
    g.circuitOpen(false);
    g.circuitOpen(true);
    clock.advance(200_000);
    expect(g.evaluate().state).toBe('ok');
  });

  it('trips at once on an invariant violation, and a cooldown lets realtime back', () => {
    const { g, clock } = guard({ cooldownMs: 60_000 });
    g.trip('invariant_violation', 'tasks: seq 5 after 7');
    expect(g.verdict()).toMatchObject({
      state: 'tripped',
      reason: 'invariant_violation',
      detail: 'tasks: seq 5 after 7',
      until: 1_060_000,
    });
    clock.advance(59_999);
    expect(g.verdict().state).toBe('tripped');
    clock.advance(1);
    expect(g.verdict().state).toBe('ok');
  });

  it('after a cooldown, reports ok once before checking the conditions again', () => {
    const { g, clock, changes } = guard({ cooldownMs: 60_000 });
    g.circuitOpen(true);
    awake(g, clock, 300_001);
    expect(g.evaluate()).toMatchObject({ state: 'tripped', reason: 'circuit_open', until: 1_360_001 });
    awake(g, clock, 60_000);
    expect(g.evaluate()).toEqual({ state: 'ok' });
    expect(g.evaluate()).toMatchObject({ state: 'tripped', reason: 'circuit_open' });
    expect(changes.map((c) => c.state)).toEqual(['tripped', 'ok', 'tripped']);
  });

  // The end of a cooldown noticed by `verdict()` alone (the client's gate,
  // in a tab idle as it ended) cleared the trip silently: the client let the
  // tab back while its state said `tripped` until a later evaluation.
  it('reports the end of a trip noticed by verdict(), once', () => {
    const { g, clock, changes } = guard({ cooldownMs: 60_000 });
    g.trip('invariant_violation', 'tasks: seq 5 after 7');
    clock.advance(60_000);
    expect(g.verdict()).toEqual({ state: 'ok' });
    expect(changes.map((c) => c.state)).toEqual(['tripped', 'ok']);
    g.verdict();
    g.evaluate();
    expect(changes).toHaveLength(2);
  });

  it('hears a nested verdict() as already ended (no second report)', () => {
    const clock = manualClock();
    const changes: RollbackVerdict[] = [];
    const nested: RollbackVerdict[] = [];
    const g: RollbackGuard = new RollbackGuard({
      clock,
      thresholds: resolveRollbackThresholds({ cooldownMs: 60_000 }),
      // As the client's listener: it applies its gate, which asks the verdict.
      onChange: (v) => {
        changes.push(v);
        nested.push(g.verdict());
      },
    });
    g.trip('invariant_violation', 'tasks: seq 5 after 7');
    clock.advance(60_000);
    expect(g.verdict()).toEqual({ state: 'ok' });
    expect(changes.map((c) => c.state)).toEqual(['tripped', 'ok']);
    expect(nested.map((c) => c.state)).toEqual(['tripped', 'ok']);
  });

  it('keeps the first trip: a later invariant violation changes nothing', () => {
    const { g, changes } = guard();
    g.trip('invariant_violation', 'tasks: seq 5 after 7');
    g.trip('invariant_violation', 'tasks: seq 6 twice');
    expect(g.verdict()).toMatchObject({ reason: 'invariant_violation', detail: 'tasks: seq 5 after 7' });
    expect(g.verdict().until).toBeUndefined();
    expect(changes).toHaveLength(1);
  });

  // The cooldown's timer asked verdict() once: a timer that fired a little
  // before the clock reached `until` (Node runs timers by a loop time that
  // may lag the clock; a browser's performance.now() is coarsened) found the
  // trip not over, and nothing asked again: in an idle tab, which has no SLI
  // tick, the state said `tripped` and realtime stayed off until a subscriber.
  it('ends the cooldown on time also when its timer fires a millisecond early', () => {
    const base = new FakeClock();
    const clock: Clock = {
      now: () => base.now(),
      setTimeout: (fn, ms) => base.setTimeout(fn, ms >= 2 ? ms - 1 : ms),
      clearTimeout: (handle) => base.clearTimeout(handle),
    };
    const changes: RollbackVerdict[] = [];
    const g = new RollbackGuard({
      clock,
      thresholds: resolveRollbackThresholds({ cooldownMs: 60_000 }),
      onChange: (v) => changes.push(v),
    });
    g.trip('invariant_violation', 'tasks: seq 5 after 7');
    base.advance(59_999);
    expect(changes.map((c) => c.state)).toEqual(['tripped']);
    base.advance(1);
    expect(changes.map((c) => c.state)).toEqual(['tripped', 'ok']);
    g.dispose();
  });
});

// The `rollback` option is checked once, by resolveOptions through this.
describe('resolveRollbackThresholds', () => {
  it('validates thresholds, naming the field', () => {
    expect(() => resolveRollbackThresholds({ errorRate: 2 })).toThrow(/rollback\.errorRate.*2/);
    expect(() => resolveRollbackThresholds({ degradedRate: 0.1, errorRate: 0.05 })).toThrow(
      /rollback\.degradedRate/,
    );
    expect(() => resolveRollbackThresholds({ cooldownMs: -1 })).toThrow(/rollback\.cooldownMs/);
  });

  it.each([
    [{ errorRate: Number.NaN }, 'rollback.errorRate must be a finite number ≥ 0 and ≤ 1, got NaN'],
    [{ degradedRate: -0.1 }, 'rollback.degradedRate must be a finite number ≥ 0 and ≤ 1, got -0.1'],
    [{ degradedRate: 0.1, errorRate: 0.05 }, 'rollback.degradedRate must be ≤ rollback.errorRate, got 0.1'],
    [{ windowMs: 999 }, 'rollback.windowMs must be an integer ≥ 1000, got 999'],
    [{ minSamples: 0 }, 'rollback.minSamples must be an integer ≥ 1, got 0'],
    [{ circuitOpenMs: 1.5 }, 'rollback.circuitOpenMs must be an integer ≥ 1, got 1.5'],
    [{ cooldownMs: -1 }, 'rollback.cooldownMs must be an integer ≥ 0, got -1'],
  ])('rejects %j with the RangeError naming the field', (overrides, message) => {
    expect(() => resolveRollbackThresholds(overrides)).toThrow(new RangeError(message));
  });

  it('fills in the defaults', () => {
    expect(resolveRollbackThresholds(undefined)).toStrictEqual(DEFAULT_ROLLBACK_THRESHOLDS);
    expect(resolveRollbackThresholds({ minSamples: 5 })).toStrictEqual({
      ...DEFAULT_ROLLBACK_THRESHOLDS,
      minSamples: 5,
    });
  });
});

describe('DEFAULT_ROLLBACK_THRESHOLDS', () => {
  it('is frozen, so no caller can change the defaults of every later client', () => {
    expect(Object.isFrozen(DEFAULT_ROLLBACK_THRESHOLDS)).toBe(true);
  });
});
