import { describe, expect, it } from 'vitest';
import { SliCollector } from '../../../src/observability/sli-collector';
import { SlidingCounter } from '../../../src/observability/sliding-counter';
import { DEFAULT_ALERT_THRESHOLDS, DEFAULT_SLO_TARGETS } from '../../../src/observability/thresholds';
import type { RealtimeEvent } from '../../../src/protocol/schemas';

// The delivery latency rests on an estimate of the server's clock, taken at
// the welcome: `serverTime + connectMs / 2`. A proxy that held the welcome
// (buffering a stream) made it about half the hold behind, and every
// latency that much short. Each event bounds the truth from below (the
// server stamped it before it got here), the welcome's round trip from
// above: the collector raises the estimate by what the events prove, never
// by more than half that round trip.

const HOUR = 3_600_000;
/** The server's clock at the collector's clock 0. */
const SERVER_EPOCH = 1_700_000_000_000;
/** The client's wall clock is this far ahead of the server's. */
const SKEW = 300_000;

/** A collector on a manual clock, with the server's clock beside it. */
function setup() {
  let now = 0;
  const clock = { now: () => now, setTimeout: () => 0, clearTimeout: () => {} };
  const wallClock = () => SERVER_EPOCH + SKEW + now;
  const sli = new SliCollector({
    clock,
    wallClock,
    sloTargets: DEFAULT_SLO_TARGETS,
    alertThresholds: DEFAULT_ALERT_THRESHOLDS,
    elections: new SlidingCounter({ windowMs: HOUR, clock }),
    window: (windowMs) => new SlidingCounter({ windowMs, clock }),
  });
  const serverNow = () => SERVER_EPOCH + now;
  let seq = 0;
  let probes = 0;
  const event = (ts: number, service = 'tasks'): RealtimeEvent => ({
    service,
    entityType: 'task',
    type: 'task.updated',
    seq: ++seq,
    ts,
    orgId: 'o',
  });
  return {
    sli,
    advance: (ms: number) => {
      now += ms;
    },
    /**
     * A connect the client times as `roundTripMs`, answered by a welcome the
     * server stamped `stampedAfterMs` into it: the client's estimate, as
     * client.ts makes it, told to the collector with its error bound.
     */
    welcome(roundTripMs: number, stampedAfterMs: number, errorMs: number | undefined = roundTripMs / 2) {
      now += stampedAfterMs;
      const serverTime = serverNow();
      now += roundTripMs - stampedAfterMs;
      sli.setClockOffset(serverTime + roundTripMs / 2 - wallClock(), errorMs);
    },
    /** Dispatches now events the server stamped `delaysMs` ago, or at `ts`. */
    deliver(delaysMs: readonly number[], service = 'tasks') {
      sli.delivered(
        service,
        delaysMs.map((delay) => event(serverNow() - delay, service)),
        now,
      );
    },
    deliverStamped(ts: readonly number[]) {
      sli.delivered(
        'tasks',
        ts.map((t) => event(t)),
        now,
      );
    },
    /**
     * The latency measured now for an event the server stamped `delayMs` ago
     * (a service of its own). It proves something too: probe with delays
     * longer than the gap, which prove nothing, where that matters.
     */
    measured(delayMs: number): number {
      const service = `probe${++probes}`;
      sli.delivered(service, [event(serverNow() - delayMs, service)], now);
      return sli.byServiceP95()[service]!;
    },
  };
}

/** Within the sketches' relative accuracy (1 %), and a millisecond of rounding, of `truth`. */
const near = (truth: number) => ({
  asymmetricMatch: (measured: number) => Math.abs(measured - truth) <= truth * 0.01 + 1,
  toString: () => `about ${truth}`,
});

describe('delivery latency after a welcome a proxy held', () => {
  it('is the true delay once an event proved the estimate behind, not half the hold less', () => {
    const t = setup();
    // Stamped 5 ms into a connect that took 2005 ms: the estimate is 997.5 ms
    // behind the truth, and may be up to 1002.5 ms off.
    t.welcome(2005, 5);
    expect(t.measured(1500)).toEqual(near(502.5));
    // A burst, its newest event stamped as the proxy let it through.
    t.deliver([1200, 600, 0]);
    expect(t.measured(1500)).toEqual(near(1500));
    expect(t.measured(2000)).toEqual(near(2000));
    // Proved once, it holds for the later bursts of the connection.
    t.advance(1500);
    t.deliver([1400, 700, 30]);
    expect(t.measured(1500)).toEqual(near(1500));
    expect(t.measured(300)).toEqual(near(300));
  });

  it('is raised by what the events prove, never past the truth', () => {
    const t = setup();
    t.welcome(2005, 5);
    // The best proof so far: an event 200 ms old. The estimate is then
    // 797.5 ms behind at least; an older event shows no more.
    t.deliver([900, 200]);
    expect(t.measured(1500)).toEqual(near(1300));
    t.deliver([250]);
    expect(t.measured(1500)).toEqual(near(1300));
    // Events that arrive in no time prove the whole gap, and nothing beyond it.
    t.deliver([0, 0]);
    expect(t.measured(1500)).toEqual(near(1500));
    t.deliver([0]);
    expect(t.measured(1500)).toEqual(near(1500));
  });

  it('keeps a right estimate, and one ahead of the truth: events bound the truth from below only', () => {
    const t = setup();
    // Stamped half-way through the round trip: the estimate is the truth.
    t.welcome(400, 200);
    t.deliver([0, 0, 50, 120]);
    expect(t.measured(300)).toEqual(near(300));
    // Stamped just before it came (a slow server): the estimate is 199 ms
    // ahead, and stays so.
    const late = setup();
    late.welcome(400, 399);
    late.deliver([0, 0]);
    expect(late.measured(300)).toEqual(near(499));
  });

  it('moves the estimate by its error bound at most, whatever the `ts`', () => {
    const t = setup();
    // A right estimate, up to 50 ms off.
    t.welcome(100, 50);
    t.deliverStamped([Number.NaN, Number.NEGATIVE_INFINITY]);
    expect(t.measured(300)).toEqual(near(300));
    // A day ahead, or further: 50 ms, the bound the round trip gave.
    t.deliverStamped([SERVER_EPOCH + 86_400_000]);
    expect(t.measured(300)).toEqual(near(350));
    t.deliverStamped([1e300, Number.POSITIVE_INFINITY]);
    expect(t.measured(300)).toEqual(near(350));
  });

  it('makes no correction without an error bound (a relayed welcome, a leader of an older version)', () => {
    for (const errorMs of [0, -5, Number.NaN]) {
      const t = setup();
      t.welcome(2005, 5, errorMs);
      t.deliver([0]);
      expect(t.measured(1500)).toEqual(near(502.5));
    }
    const t = setup();
    t.welcome(2005, 5);
    // The same estimate, told without a bound (a `state` message without one).
    t.sli.setClockOffset(-SKEW - 997.5);
    t.deliver([0]);
    expect(t.measured(1500)).toEqual(near(502.5));
  });

  it('starts over at each estimate: what events proved of the last one is not carried', () => {
    const t = setup();
    t.welcome(2005, 5);
    t.deliver([0]);
    expect(t.measured(1500)).toEqual(near(1500));
    // The next connection's welcome, not held: right, up to 50 ms off.
    t.welcome(100, 50);
    expect(t.measured(300)).toEqual(near(300));
  });

  it('counts from a subscription as before: that time is ours alone', () => {
    const t = setup();
    t.welcome(2005, 5);
    t.deliver([0]);
    t.sli.subscribed(['notes']);
    t.advance(100);
    // Stamped long before the tab subscribed: 100 ms, whatever the offset.
    t.deliver([5000], 'notes');
    expect(t.sli.byServiceP95().notes).toEqual(near(100));
  });
});
