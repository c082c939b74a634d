import { describe, expect, it } from 'vitest';
import { SliCollector } from '../../../src/observability/sli-collector';
import { SlidingCounter } from '../../../src/observability/sliding-counter';
import { DEFAULT_ALERT_THRESHOLDS, DEFAULT_SLO_TARGETS } from '../../../src/observability/thresholds';
import type { RealtimeEvent } from '../../../src/protocol/schemas';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
/** The client's SLI tick (`SLI_TICK_MS` in src/client.ts): deliveries and alert evaluations. */
const TICK = 10 * SECOND;
/** Events per tick. */
const PER_TICK = 100;
const HEALTHY_MS = 100;
const SLOW_MS = 8000;
/** Epoch ms of the start: the wall clock runs beside the monotonic one. */
const EPOCH = 1_700_000_000_000;

/**
 * A collector on a manual clock (the monotonic clock starts at 0, the wall
 * clock at EPOCH and both move together), fed a batch of PER_TICK events
 * every TICK and evaluated after each, as the client's tick does.
 */
function setup() {
  let now = 0;
  const clock = { now: () => now, setTimeout: () => 0, clearTimeout: () => {} };
  const sli = new SliCollector({
    clock,
    wallClock: () => EPOCH + now,
    sloTargets: DEFAULT_SLO_TARGETS,
    alertThresholds: DEFAULT_ALERT_THRESHOLDS,
    elections: new SlidingCounter({ windowMs: HOUR, clock }),
    window: (windowMs) => new SlidingCounter({ windowMs, clock }),
  });
  let seq = 0;
  /** The deliveryP99 alert active now, as `level`, or undefined. */
  const deliveryAlert = () => sli.evaluateAlerts().find((alert) => alert.name === 'deliveryP99');
  return {
    sli,
    now: () => now,
    deliveryAlert,
    /**
     * Runs `ms` of traffic: each tick one batch whose first `slowShare` of
     * events took SLOW_MS and the rest HEALTHY_MS, then an evaluation; calls
     * `check` with the alert after each evaluation.
     */
    run(ms: number, slowShare: number, check?: (alert: ReturnType<typeof deliveryAlert>) => void): void {
      for (const end = now + ms; now < end; ) {
        now += TICK;
        const sentAt = EPOCH + now;
        const events = Array.from({ length: PER_TICK }, (_, i): RealtimeEvent => {
          seq++;
          const latency = i < slowShare * PER_TICK ? SLOW_MS : HEALTHY_MS;
          return {
            service: 'orders',
            entityType: 'order',
            type: 'updated',
            seq,
            ts: sentAt - latency,
            orgId: 'o',
          };
        });
        // Dispatched now, on the collector's clock (the server's: sentAt).
        sli.delivered('orders', events, now);
        const alert = deliveryAlert();
        check?.(alert);
      }
    },
    /** Runs `ms` without traffic, evaluating every tick. */
    idle(ms: number, check?: (alert: ReturnType<typeof deliveryAlert>) => void): void {
      for (const end = now + ms; now < end; ) {
        now += TICK;
        const alert = deliveryAlert();
        check?.(alert);
      }
    },
  };
}

describe('SliCollector: the deliveryP99 alert reads the latency of now', () => {
  it('raises the critical alert for a problem that lasts longer than its "for", after hours of healthy traffic', () => {
    const { run, now, deliveryAlert } = setup();
    run(2 * HOUR, 0, (alert) => expect(alert).toBeUndefined());
    // 3 % of the events take 8 s: the p99 of now is 8 s, though over the whole
    // session (3 % of 15 min against 2 h) under 1 % of the events were slow.
    const problemStart = now();
    run(13 * MINUTE, 0.03);
    const alert = deliveryAlert();
    expect(alert).toMatchObject({ name: 'deliveryP99', level: 'critical', threshold: 5000 });
    // The p99 of the window passed 5 s once over 1 % of the window's events
    // were slow, a third of the window (4 to 5 min) into the problem.
    expect(alert?.since).toBeGreaterThan(problemStart);
    expect(alert?.since).toBeLessThanOrEqual(problemStart + 2 * MINUTE);
    expect(alert?.value).toBeGreaterThan(SLOW_MS * 0.98);
  });

  it('clears the alert once the problem is over and out of the window', () => {
    const { run, now, deliveryAlert } = setup();
    run(30 * MINUTE, 0);
    // Every event takes 8 s for 15 min: critical on any reading.
    run(15 * MINUTE, 1);
    expect(deliveryAlert()).toMatchObject({ level: 'critical' });
    const problemEnd = now();
    // The slow samples of the problem's last minute stay in the window for 4 to 5 min.
    run(3 * MINUTE, 0, (alert) => expect(alert).toMatchObject({ level: 'critical' }));
    run(2 * MINUTE + TICK, 0);
    expect(now() - problemEnd).toBeGreaterThan(5 * MINUTE);
    expect(deliveryAlert()).toBeUndefined();
    // And it stays clear while the traffic is healthy.
    run(HOUR, 0, (alert) => expect(alert).toBeUndefined());
  });

  it('has no delivery figure while nothing was delivered in the window, so its "for" restarts', () => {
    const { run, idle, now, deliveryAlert, sli } = setup();
    run(11 * MINUTE, 1);
    expect(deliveryAlert()).toMatchObject({ level: 'critical' });
    idle(4 * MINUTE, (alert) => expect(alert).toMatchObject({ level: 'critical' }));
    idle(MINUTE + TICK);
    expect(sli.recentDelivery.read().count).toBe(0);
    expect(deliveryAlert()).toBeUndefined();
    const resumed = now();
    run(5 * MINUTE, 1, (alert) => expect(alert).toBeUndefined());
    run(6 * MINUTE, 1);
    expect(deliveryAlert()?.since).toBe(resumed + TICK);
  });

  it('keeps the SLOs and the report on the whole life of the collector', () => {
    const { run, sli, deliveryAlert } = setup();
    run(30 * MINUTE, 0);
    run(15 * MINUTE, 1);
    run(30 * MINUTE, 0);
    expect(deliveryAlert()).toBeUndefined();
    // 15 slow minutes out of 75: the session's p99 is still the slow one.
    expect(sli.delivery.count).toBe(75 * 6 * PER_TICK);
    expect(sli.delivery.quantile(0.99)).toBe(SLOW_MS);
    expect(sli.slo().deliveryP99Ms).toMatchObject({ value: SLOW_MS, ok: false });
  });

  it('holds five sketches and at most five minutes of samples for the alert, whatever the traffic', () => {
    const { run, sli } = setup();
    const windowCounts: number[] = [];
    for (let hour = 0; hour < 6; hour++) {
      run(HOUR, hour % 2 === 0 ? 0 : 0.5, () => {
        windowCounts.push(sli.recentDelivery.read().count);
        expect(sli.recentDelivery.size).toBe(5);
      });
    }
    // 6 batches a minute: between 4 and 5 minutes of them once the window is full.
    expect(Math.max(...windowCounts)).toBeLessThanOrEqual(5 * 6 * PER_TICK);
    expect(Math.min(...windowCounts.slice(5 * 6))).toBeGreaterThanOrEqual(4 * 6 * PER_TICK);
    expect(sli.delivery.count).toBe(6 * 360 * PER_TICK);
  });
});

describe('byServiceP95 with the services the state keeps', () => {
  // A service named like an Object.prototype member (`toString`) read as kept
  // from any object: its sketch stayed, and its p95 was reported, for good.
  it('drops the sketch of a service the state no longer keeps, whatever its name', () => {
    const { sli } = setup();
    for (const service of ['toString', 'orders']) {
      const event: RealtimeEvent = { service, entityType: 'x', type: 'y', seq: 1, ts: EPOCH, orgId: 'o' };
      sli.delivered(service, [event], 50);
    }
    expect(Object.keys(sli.byServiceP95())).toEqual(['toString', 'orders']);
    expect(Object.keys(sli.byServiceP95({ orders: 1 }))).toEqual(['orders']);
    expect(Object.keys(sli.byServiceP95())).toEqual(['orders']);
  });
});
