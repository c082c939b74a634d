import { describe, expect, it } from 'vitest';
import { SliCollector } from '../../../src/observability/sli-collector';
import { SlidingCounter } from '../../../src/observability/sliding-counter';
import { DEFAULT_ALERT_THRESHOLDS, DEFAULT_SLO_TARGETS } from '../../../src/observability/thresholds';

// The `optimisticTimeouts` warning ("optimistic timeouts > 1 %") read the
// share of timed-out mutations over the collector's whole life. One timeout
// early in a long-lived tab raised it, and it stayed raised for as long as
// fewer than 99 later mutations came back in time: in a quiet tab (a few
// writes an hour, or none) for the rest of the session, in every report,
// long after the problem was over. As the `deliveryP99` alert reads the
// latency of the last minutes, this alert reads the mutations settled in the
// last hour; `sli.optimisticTimeoutRate` (the SLI) keeps covering the tab's life.

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

function setup() {
  let now = 0;
  const clock = { now: () => now, setTimeout: () => 0, clearTimeout: () => {} };
  const sli = new SliCollector({
    clock,
    wallClock: () => 1_700_000_000_000 + now,
    sloTargets: DEFAULT_SLO_TARGETS,
    alertThresholds: DEFAULT_ALERT_THRESHOLDS,
    elections: new SlidingCounter({ windowMs: HOUR, clock }),
    window: (windowMs) => new SlidingCounter({ windowMs, clock }),
  });
  const alert = () => sli.evaluateAlerts().find((a) => a.name === 'optimisticTimeouts');
  return {
    sli,
    alert,
    /** Advances the clock by `ms`, evaluating the alerts every 10 s as the client's tick does. */
    advance(ms: number) {
      for (const end = now + ms; now < end; now += 10_000) sli.evaluateAlerts();
    },
  };
}

describe('the optimisticTimeouts alert', () => {
  it('clears once the timeouts are over an hour old', () => {
    const { sli, alert, advance } = setup();
    sli.mutationSettled({ status: 'visible', latencyMs: 200 });
    sli.mutationSettled({ status: 'timed_out' });
    expect(alert()).toMatchObject({ level: 'warning', value: 0.5 });

    advance(2 * HOUR); // nothing more is written
    expect(alert()).toBeUndefined();
    // The SLI still covers the tab's life.
    expect(sli.optimisticTimeoutRate).toBe(0.5);
  });

  it('clears when the mutations of the last hour all came back in time', () => {
    const { sli, alert, advance } = setup();
    sli.mutationSettled({ status: 'timed_out' });
    expect(alert()?.level).toBe('warning');
    advance(HOUR + MINUTE);
    for (let i = 0; i < 5; i++) {
      sli.mutationSettled({ status: 'visible', latencyMs: 100 });
      advance(MINUTE);
    }
    expect(alert()).toBeUndefined();
  });

  it('is still raised by timeouts of the last hour', () => {
    const { sli, alert, advance } = setup();
    for (let i = 0; i < 200; i++) sli.mutationSettled({ status: 'visible', latencyMs: 100 });
    advance(2 * HOUR);
    // Lifetime share 3/203 ≈ 1.5 %; in the last hour 3/3.
    sli.mutationSettled({ status: 'timed_out' });
    advance(10 * MINUTE);
    sli.mutationSettled({ status: 'timed_out' });
    sli.mutationSettled({ status: 'timed_out' });
    expect(alert()).toMatchObject({ level: 'warning', value: 1 });
  });
});
