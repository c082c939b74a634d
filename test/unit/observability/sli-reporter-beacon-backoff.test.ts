import { describe, expect, it } from 'vitest';
import {
  SliReporter,
  type TelemetryFetch,
  type TelemetryResponseLike,
} from '../../../src/observability/sli-reporter';
import { sliReport } from '../../fixtures/sli-report';
import { FakeClock, flushPromises } from '../connection/fake-clock';

// docs/observability.md: "A 2xx answer, or a beacon the browser queued,
// resets" the backoff, and `stats().sent` counts such a beacon as accepted.
// A queued beacon was counted as sent but left the run of failures going,
// so the next failure backed off as the second of a run: twice as long.

const MINUTE = 60_000;

const response = (status: number): TelemetryResponseLike => ({
  status,
  headers: { get: () => null },
  body: null,
});

async function run(clock: FakeClock, ms: number): Promise<void> {
  for (let t = 0; t < ms; t += 1000) {
    clock.advance(1000);
    await flushPromises();
  }
}

describe('SliReporter backoff after a queued beacon', () => {
  it('starts over, as after a 2xx answer', async () => {
    const clock = new FakeClock();
    const calls: number[] = [];
    // Every POST fails; only the beacon gets through.
    const fetch: TelemetryFetch = async () => {
      calls.push(clock.now());
      return response(503);
    };
    const window = new EventTarget();
    const reporter = new SliReporter({
      url: 'https://app.example/telemetry/client',
      sampled: true,
      collect: () => sliReport({ sentAt: 1 }),
      fetch,
      sendBeacon: () => true,
      clock,
      wallClock: clock.wall,
      random: () => 0.5,
      window,
      document: Object.assign(new EventTarget(), { visibilityState: 'visible' }),
    });
    reporter.start();
    await run(clock, MINUTE); // fails: the first of a run, blocked 90 s (to 150 s)
    expect(calls).toEqual([MINUTE]);
    await run(clock, 100_000); // 160 s
    window.dispatchEvent(new Event('pagehide')); // the beacon is queued
    expect(reporter.stats()).toMatchObject({ sent: 1, lastStatus: 'beacon' });
    await run(clock, 20_000); // 180 s: fails, the first of a new run: blocked 90 s (to 270 s)
    expect(calls).toEqual([MINUTE, 3 * MINUTE]);
    await run(clock, 2 * MINUTE); // 300 s: the tick sends
    expect(calls).toEqual([MINUTE, 3 * MINUTE, 5 * MINUTE]);
    reporter.stop();
  });
});
