import { describe, expect, it } from 'vitest';
import { evaluateSlos, type SloTargets } from '../../../src/observability/slo';
import { DEFAULT_SLO_TARGETS, resolveSloTargets, SLO_NAMES } from '../../../src/observability/thresholds';

describe('DEFAULT_SLO_TARGETS', () => {
  it("are exactly the monitoring plan's targets", () => {
    expect(DEFAULT_SLO_TARGETS).toStrictEqual({
      deliveryP50Ms: 500,
      deliveryP99Ms: 2000,
      deliveryP999Ms: 5000,
      takeoverP95Ms: 500,
      takeoverP99Ms: 2000,
      electionsPerHour: 1,
      mutationToVisibleP95Ms: 1000,
      circuitOpenPercent: 0.1,
    });
    expect(Object.isFrozen(DEFAULT_SLO_TARGETS)).toBe(true);
    expect(Object.isFrozen(SLO_NAMES)).toBe(true);
    expect(SLO_NAMES).toEqual(Object.keys(DEFAULT_SLO_TARGETS));
  });
});

describe('resolveSloTargets', () => {
  it('merges overrides over the defaults', () => {
    expect(resolveSloTargets({ deliveryP99Ms: 1500 })).toStrictEqual({
      ...DEFAULT_SLO_TARGETS,
      deliveryP99Ms: 1500,
    });
    expect(resolveSloTargets()).toStrictEqual(DEFAULT_SLO_TARGETS);
  });

  it.each([
    [{ deliveryP99Ms: 0 }, 'slo.deliveryP99Ms must be a finite number > 0, got 0'],
    [{ takeoverP95Ms: -1 }, 'slo.takeoverP95Ms must be a finite number'],
    [{ circuitOpenPercent: Number.NaN }, 'slo.circuitOpenPercent must be a finite number'],
    [{ electionsPerHour: '1' }, 'slo.electionsPerHour must be a finite number'],
    [
      { deliveryP99: 2000 },
      'slo.deliveryP99 is not an option (did you mean deliveryP99Ms?); known: deliveryP50Ms',
    ],
  ])('rejects %j with a RangeError naming the field', (overrides, message) => {
    const run = () => resolveSloTargets(overrides as unknown as Partial<SloTargets>);
    expect(run).toThrow(RangeError);
    expect(run).toThrow(message);
  });

  it('rejects a non-object and names the group as told', () => {
    expect(() => resolveSloTargets(null as unknown as Partial<SloTargets>, 'options.slo')).toThrow(
      new RangeError('options.slo must be an object, got null'),
    );
  });

  it('keeps undefined overrides at the default', () => {
    expect(resolveSloTargets({ deliveryP50Ms: undefined }).deliveryP50Ms).toBe(500);
  });
});

describe('evaluateSlos', () => {
  it('reports every SLO; no data gives value and ok undefined', () => {
    const report = evaluateSlos({}, DEFAULT_SLO_TARGETS);
    expect(Object.keys(report)).toEqual(SLO_NAMES);
    for (const name of SLO_NAMES) {
      expect(report[name]).toStrictEqual({
        value: undefined,
        target: DEFAULT_SLO_TARGETS[name],
        ok: undefined,
      });
    }
  });

  it('ok is value < target: strictly below passes, equal fails', () => {
    const report = evaluateSlos(
      {
        deliveryP50Ms: 499.9,
        deliveryP99Ms: 2000,
        deliveryP999Ms: 7000,
        takeoverP95Ms: 120,
        takeoverP99Ms: 2500,
        electionsPerHour: 0,
        mutationToVisibleP95Ms: 1000.1,
        circuitOpenPercent: 0.05,
      },
      DEFAULT_SLO_TARGETS,
    );
    expect(report).toStrictEqual({
      deliveryP50Ms: { value: 499.9, target: 500, ok: true },
      deliveryP99Ms: { value: 2000, target: 2000, ok: false },
      deliveryP999Ms: { value: 7000, target: 5000, ok: false },
      takeoverP95Ms: { value: 120, target: 500, ok: true },
      takeoverP99Ms: { value: 2500, target: 2000, ok: false },
      electionsPerHour: { value: 0, target: 1, ok: true },
      mutationToVisibleP95Ms: { value: 1000.1, target: 1000, ok: false },
      circuitOpenPercent: { value: 0.05, target: 0.1, ok: true },
    });
  });

  it('treats NaN and ±Infinity as no data', () => {
    const report = evaluateSlos(
      { deliveryP50Ms: Number.NaN, takeoverP95Ms: Number.POSITIVE_INFINITY },
      DEFAULT_SLO_TARGETS,
    );
    expect(report.deliveryP50Ms).toStrictEqual({ value: undefined, target: 500, ok: undefined });
    expect(report.takeoverP95Ms).toStrictEqual({ value: undefined, target: 500, ok: undefined });
  });

  it('uses custom (partial) targets', () => {
    const report = evaluateSlos(
      { deliveryP99Ms: 1800, electionsPerHour: 1 },
      resolveSloTargets({ deliveryP99Ms: 1500 }),
    );
    expect(report.deliveryP99Ms).toStrictEqual({ value: 1800, target: 1500, ok: false });
    expect(report.electionsPerHour).toStrictEqual({ value: 1, target: 1, ok: false });
  });

  it('reports the targets in their order', () => {
    expect(Object.keys(evaluateSlos({}, DEFAULT_SLO_TARGETS))).toEqual(SLO_NAMES);
  });
});
