import { describe, expect, it } from 'vitest';
import { type Alert, AlertEvaluator, type AlertThresholds } from '../../../src/observability/alerts';
import { DEFAULT_ALERT_THRESHOLDS, resolveAlertThresholds } from '../../../src/observability/thresholds';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const START = 1_000_000;

/** An evaluator of the defaults with `thresholds` over them, as the client makes one. */
function make(thresholds: Partial<AlertThresholds> = {}, clock = { now: () => START }): AlertEvaluator {
  return new AlertEvaluator({ thresholds: resolveAlertThresholds(thresholds), clock });
}

function setup(options: { thresholds?: Partial<AlertThresholds> } = {}) {
  let now = START;
  const evaluator = make(options.thresholds, { now: () => now });
  return {
    evaluator,
    /** Moves the clock to START + `offset` ms. */
    at: (offset: number) => {
      now = START + offset;
    },
    names: (alerts: readonly Alert[]) => alerts.map((alert) => `${alert.name}:${alert.level}`),
  };
}

describe('alert thresholds', () => {
  it("default to the monitoring plan's thresholds", () => {
    expect(DEFAULT_ALERT_THRESHOLDS).toStrictEqual({
      circuitOpenCriticalMs: 5 * MINUTE,
      electionsPerHourCritical: 10,
      electionsPerHourWarning: 3,
      deliveryP99CriticalMs: 5000,
      deliveryP99CriticalForMs: 10 * MINUTE,
      deliveryP99WarningMs: 3000,
      deliveryP99WarningForMs: HOUR,
      optimisticTimeoutRateWarning: 0.01,
      droppedEventsWarning: 10,
    });
    expect(Object.isFrozen(DEFAULT_ALERT_THRESHOLDS)).toBe(true);
    expect(make().thresholds).toStrictEqual(DEFAULT_ALERT_THRESHOLDS);
  });

  it('merges overrides', () => {
    expect(make({ droppedEventsWarning: 50 }).thresholds).toStrictEqual({
      ...DEFAULT_ALERT_THRESHOLDS,
      droppedEventsWarning: 50,
    });
  });

  it.each([
    [{ circuitOpenCriticalMs: -1 }, 'alerts.circuitOpenCriticalMs must be a finite number ≥ 0, got -1'],
    [
      { deliveryP99CriticalForMs: Number.NaN },
      'alerts.deliveryP99CriticalForMs must be a finite number ≥ 0, got NaN',
    ],
    [{ droppedEventsWarning: '10' }, 'alerts.droppedEventsWarning must be a finite number ≥ 0, got "10"'],
    [{ churnCritical: 5 }, 'alerts.churnCritical is not an option; known: circuitOpenCriticalMs'],
  ])('rejects %j with a RangeError naming the field', (thresholds, message) => {
    const resolve = () => resolveAlertThresholds(thresholds as unknown as Partial<AlertThresholds>);
    expect(resolve).toThrow(RangeError);
    expect(resolve).toThrow(message);
  });

  it('resolveAlertThresholds names the group as told', () => {
    expect(() => resolveAlertThresholds({ electionsPerHourWarning: -3 }, 'options.alerts')).toThrow(
      'options.alerts.electionsPerHourWarning must be',
    );
  });
});

describe('AlertEvaluator', () => {
  it('has no alerts before the first observation, or with no data', () => {
    const { evaluator } = setup();
    expect(evaluator.active).toEqual([]);
    expect(evaluator.observe({})).toEqual([]);
    expect(
      evaluator.observe({
        deliveryP99Ms: Number.NaN,
        electionsPerHour: undefined,
        droppedLast5Min: Number.NaN,
      }),
    ).toEqual([]);
  });

  it('has no alerts when everything is healthy', () => {
    const { evaluator } = setup();
    expect(
      evaluator.observe({
        electionsPerHour: 1,
        deliveryP99Ms: 800,
        optimisticTimeoutRate: 0,
        droppedLast5Min: 0,
      }),
    ).toEqual([]);
  });

  describe('circuit open > 5 min (critical)', () => {
    it('is info while open up to exactly 5 min, critical past it', () => {
      const { evaluator, at } = setup();
      at(MINUTE);
      expect(evaluator.observe({ circuitOpenSinceMs: START })).toStrictEqual([
        {
          name: 'circuitOpen',
          level: 'info',
          since: START,
          value: MINUTE,
          threshold: 0,
          message: 'Circuit open for 1 min',
        },
      ]);
      at(5 * MINUTE);
      expect(evaluator.observe({ circuitOpenSinceMs: START })[0]?.level).toBe('info');
      at(5 * MINUTE + 1);
      expect(evaluator.observe({ circuitOpenSinceMs: START })).toStrictEqual([
        {
          name: 'circuitOpen',
          level: 'critical',
          since: START,
          value: 5 * MINUTE + 1,
          threshold: 5 * MINUTE,
          message: 'Circuit open for 5 min (> 5 min)',
        },
      ]);
    });

    it('uses the opening time given, not the observations: a first observation may already be critical', () => {
      const { evaluator, at } = setup();
      at(HOUR);
      expect(evaluator.observe({ circuitOpenSinceMs: START })[0]).toMatchObject({
        level: 'critical',
        value: HOUR,
        message: 'Circuit open for 1 h (> 5 min)',
      });
    });

    it('clears when the circuit closes', () => {
      const { evaluator, at } = setup();
      at(10 * MINUTE);
      expect(evaluator.observe({ circuitOpenSinceMs: START })).toHaveLength(1);
      expect(evaluator.observe({})).toEqual([]);
      expect(evaluator.active).toEqual([]);
    });

    it('reads an opening time in the future as just opened', () => {
      const { evaluator } = setup();
      expect(evaluator.observe({ circuitOpenSinceMs: START + 5000 })[0]).toMatchObject({
        level: 'info',
        value: 0,
      });
    });

    it('honours a custom threshold', () => {
      const { evaluator, at } = setup({ thresholds: { circuitOpenCriticalMs: MINUTE } });
      at(MINUTE + 1);
      expect(evaluator.observe({ circuitOpenSinceMs: START })[0]?.level).toBe('critical');
    });
  });

  describe('leader churn > 10/hour (critical), > 3/hour (warning)', () => {
    it.each([
      [0, []],
      [3, []],
      [3.5, ['leaderChurn:warning']],
      [4, ['leaderChurn:warning']],
      [10, ['leaderChurn:warning']],
      [11, ['leaderChurn:critical']],
    ])('%d elections/hour → %j', (electionsPerHour, expected) => {
      const { evaluator, names } = setup();
      expect(names(evaluator.observe({ electionsPerHour }))).toEqual(expected);
    });

    it('reports value, threshold, since and message', () => {
      const { evaluator, at } = setup();
      evaluator.observe({ electionsPerHour: 4 });
      at(MINUTE);
      expect(evaluator.observe({ electionsPerHour: 12 })).toStrictEqual([
        {
          name: 'leaderChurn',
          level: 'critical',
          since: START + MINUTE,
          value: 12,
          threshold: 10,
          message: 'Leader churn 12 elections in the last hour (> 10/hour)',
        },
      ]);
      at(2 * MINUTE);
      // Back down to warning: the warning condition has held since the first observation.
      expect(evaluator.observe({ electionsPerHour: 5 })[0]).toMatchObject({
        level: 'warning',
        since: START,
        threshold: 3,
      });
      at(3 * MINUTE);
      expect(evaluator.observe({ electionsPerHour: 2 })).toEqual([]);
      at(4 * MINUTE);
      expect(evaluator.observe({ electionsPerHour: 4 })[0]?.since).toBe(START + 4 * MINUTE);
    });
  });

  describe('delivery p99 > 5 s for > 10 min (critical)', () => {
    it('fires only past 10 min: exactly 10 min is not enough', () => {
      const { evaluator, at, names } = setup();
      expect(evaluator.observe({ deliveryP99Ms: 6000 })).toEqual([]);
      at(5 * MINUTE);
      expect(evaluator.observe({ deliveryP99Ms: 7000 })).toEqual([]);
      at(10 * MINUTE);
      expect(evaluator.observe({ deliveryP99Ms: 6000 })).toEqual([]);
      at(10 * MINUTE + 1);
      expect(names(evaluator.observe({ deliveryP99Ms: 6000 }))).toEqual(['deliveryP99:critical']);
      expect(evaluator.active[0]).toStrictEqual({
        name: 'deliveryP99',
        level: 'critical',
        since: START,
        value: 6000,
        threshold: 5000,
        message: 'Event delivery p99 6000 ms (> 5000 ms) for 10 min',
      });
    });

    it('p99 of exactly 5 s does not hold the condition', () => {
      const { evaluator, at } = setup();
      evaluator.observe({ deliveryP99Ms: 5000 });
      at(HOUR + 1);
      // > 3 s for > 1 h: the warning, not the critical.
      expect(evaluator.observe({ deliveryP99Ms: 5000 })[0]).toMatchObject({ level: 'warning' });
    });

    it('restarts when p99 drops to 5 s or below in between', () => {
      const { evaluator, at } = setup();
      evaluator.observe({ deliveryP99Ms: 6000 });
      at(9 * MINUTE);
      evaluator.observe({ deliveryP99Ms: 4000 }); // breaks the critical hold only
      at(9 * MINUTE + 1);
      evaluator.observe({ deliveryP99Ms: 6000 });
      at(19 * MINUTE + 1);
      expect(evaluator.observe({ deliveryP99Ms: 6000 })).toEqual([]);
      at(19 * MINUTE + 2);
      expect(evaluator.observe({ deliveryP99Ms: 6000 })[0]).toMatchObject({
        level: 'critical',
        since: START + 9 * MINUTE + 1,
      });
    });

    it('restarts on an observation with no data', () => {
      const { evaluator, at } = setup();
      evaluator.observe({ deliveryP99Ms: 6000 });
      at(5 * MINUTE);
      evaluator.observe({});
      at(11 * MINUTE);
      expect(evaluator.observe({ deliveryP99Ms: 6000 })).toEqual([]);
    });

    it('clears as soon as p99 recovers', () => {
      const { evaluator, at } = setup();
      evaluator.observe({ deliveryP99Ms: 6000 });
      at(11 * MINUTE);
      expect(evaluator.observe({ deliveryP99Ms: 6000 })).toHaveLength(1);
      at(12 * MINUTE);
      expect(evaluator.observe({ deliveryP99Ms: 1000 })).toEqual([]);
    });

    it('honours custom level and duration', () => {
      const { evaluator, at, names } = setup({
        thresholds: { deliveryP99CriticalMs: 1000, deliveryP99CriticalForMs: 0 },
      });
      evaluator.observe({ deliveryP99Ms: 1500 });
      expect(names(evaluator.active)).toEqual([]); // held for 0 ms: not > 0
      at(1);
      expect(names(evaluator.observe({ deliveryP99Ms: 1500 }))).toEqual(['deliveryP99:critical']);
    });
  });

  describe('delivery p99 > 3 s for > 1 h (warning)', () => {
    it('fires only past 1 h: exactly 1 h is not enough', () => {
      const { evaluator, at, names } = setup();
      for (let minute = 0; minute <= 60; minute += 10) {
        at(minute * MINUTE);
        expect(evaluator.observe({ deliveryP99Ms: 3500 })).toEqual([]);
      }
      at(HOUR + 1);
      expect(names(evaluator.observe({ deliveryP99Ms: 3500 }))).toEqual(['deliveryP99:warning']);
      expect(evaluator.active[0]).toMatchObject({ since: START, value: 3500, threshold: 3000 });
      expect(evaluator.active[0]?.message).toBe('Event delivery p99 3500 ms (> 3000 ms) for 1 h');
    });

    it('p99 of exactly 3 s never fires', () => {
      const { evaluator, at } = setup();
      evaluator.observe({ deliveryP99Ms: 3000 });
      at(2 * HOUR);
      expect(evaluator.observe({ deliveryP99Ms: 3000 })).toEqual([]);
    });

    it('keeps its hold while p99 moves between 3 s and 5 s and beyond, and resets below 3 s', () => {
      const { evaluator, at, names } = setup();
      evaluator.observe({ deliveryP99Ms: 3500 });
      at(30 * MINUTE);
      evaluator.observe({ deliveryP99Ms: 9000 });
      at(HOUR + 1);
      // 4 s breaks the critical hold; the warning hold, unbroken since START, fires.
      expect(names(evaluator.observe({ deliveryP99Ms: 4000 }))).toEqual(['deliveryP99:warning']);
      at(HOUR + 2);
      expect(names(evaluator.observe({ deliveryP99Ms: 2999 }))).toEqual([]);
      at(2 * HOUR + 2);
      expect(evaluator.observe({ deliveryP99Ms: 3500 })).toEqual([]);
    });

    it('critical wins over the warning when both hold', () => {
      const { evaluator, at, names } = setup();
      evaluator.observe({ deliveryP99Ms: 6000 });
      at(2 * HOUR);
      expect(names(evaluator.observe({ deliveryP99Ms: 6000 }))).toEqual(['deliveryP99:critical']);
    });
  });

  describe('optimistic timeouts > 1 % (warning)', () => {
    it.each([
      [0, false],
      [0.01, false],
      [0.0101, true],
      [0.5, true],
    ])('rate %d → alert %s', (optimisticTimeoutRate, fires) => {
      const { evaluator } = setup();
      expect(evaluator.observe({ optimisticTimeoutRate }).length > 0).toBe(fires);
    });

    it('reports the rate as a percentage', () => {
      const { evaluator } = setup();
      expect(evaluator.observe({ optimisticTimeoutRate: 0.025 })).toStrictEqual([
        {
          name: 'optimisticTimeouts',
          level: 'warning',
          since: START,
          value: 0.025,
          threshold: 0.01,
          message: 'Optimistic mutations timing out: 2.5 % (> 1 %)',
        },
      ]);
    });
  });

  describe('> 10 dropped events in 5 min (warning)', () => {
    it.each([
      [0, false],
      [10, false],
      [11, true],
    ])('%d dropped → alert %s', (droppedLast5Min, fires) => {
      const { evaluator } = setup();
      expect(evaluator.observe({ droppedLast5Min }).length > 0).toBe(fires);
    });

    it('reports since when it has been above and clears when it falls back', () => {
      const { evaluator, at } = setup();
      evaluator.observe({ droppedLast5Min: 11 });
      at(MINUTE);
      expect(evaluator.observe({ droppedLast5Min: 20 })).toStrictEqual([
        {
          name: 'droppedEvents',
          level: 'warning',
          since: START,
          value: 20,
          threshold: 10,
          message: '20 events dropped in the last 5 min (> 10)',
        },
      ]);
      at(2 * MINUTE);
      expect(evaluator.observe({ droppedLast5Min: 10 })).toEqual([]);
    });
  });

  it('orders alerts most severe first, and reset() forgets every hold', () => {
    const { evaluator, at, names } = setup();
    const bad = {
      circuitOpenSinceMs: START,
      electionsPerHour: 5,
      deliveryP99Ms: 6000,
      optimisticTimeoutRate: 0.2,
      droppedLast5Min: 50,
    };
    evaluator.observe(bad);
    at(11 * MINUTE);
    expect(names(evaluator.observe(bad))).toEqual([
      'circuitOpen:critical',
      'deliveryP99:critical',
      'leaderChurn:warning',
      'optimisticTimeouts:warning',
      'droppedEvents:warning',
    ]);
    expect(Object.isFrozen(evaluator.active)).toBe(true);
    evaluator.reset();
    expect(evaluator.active).toEqual([]);
    at(12 * MINUTE);
    // The p99 hold restarted: not critical again until another 10 min pass.
    expect(names(evaluator.observe({ deliveryP99Ms: 6000 }))).toEqual([]);
  });
});
