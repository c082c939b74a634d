import { assertObject } from '../util/validate';
import { assertPositive } from './quantile-sketch';

/**
 * The SLO targets: each SLI must stay strictly below its target. Units are
 * in the names; `electionsPerHour` is per tab, `circuitOpenPercent` is a
 * percentage (0.1 means 0.1 %, not 10 %).
 */
export interface SloTargets {
  /** Event delivery latency p50, ms. */
  deliveryP50Ms: number;
  /** Event delivery latency p99, ms. */
  deliveryP99Ms: number;
  /** Event delivery latency p99.9, ms. */
  deliveryP999Ms: number;
  /** Leader takeover time p95, ms. */
  takeoverP95Ms: number;
  /** Leader takeover time p99, ms. */
  takeoverP99Ms: number;
  /** Leader elections in the last hour, per tab (leader churn). */
  electionsPerHour: number;
  /** Mutation → visible p95, ms. */
  mutationToVisibleP95Ms: number;
  /** Share of time the circuit was open, in percent. */
  circuitOpenPercent: number;
}

/** The name of one SLO; the keys of {@link SloTargets}. */
export type SloName = keyof SloTargets;

/**
 * The targets of the monitoring plan: delivery p50 < 500 ms, p99 < 2 s,
 * p99.9 < 5 s; takeover p95 < 500 ms, p99 < 2 s; churn < 1 election per hour
 * per tab; mutation → visible p95 < 1 s; circuit open < 0.1 %.
 */
export const DEFAULT_SLO_TARGETS: Readonly<SloTargets> = Object.freeze({
  deliveryP50Ms: 500,
  deliveryP99Ms: 2000,
  deliveryP999Ms: 5000,
  takeoverP95Ms: 500,
  takeoverP99Ms: 2000,
  electionsPerHour: 1,
  mutationToVisibleP95Ms: 1000,
  circuitOpenPercent: 0.1,
});

/** Every SLO name, in the order they are reported. */
export const SLO_NAMES = Object.freeze(Object.keys(DEFAULT_SLO_TARGETS)) as readonly SloName[];

/** The measured SLIs; a missing or non-finite figure means "no data yet". */
export type SloFigures = Partial<Record<SloName, number | undefined>>;

/** One evaluated SLO, as in `getState().slo`. */
export interface SloResult {
  /** The measured value; `undefined` when there is no data. */
  value: number | undefined;
  target: number;
  /** `value < target`; `undefined` when there is no data (neither met nor missed). */
  ok: boolean | undefined;
}

/** Every SLO evaluated, by name. */
export type SloReport = Record<SloName, SloResult>;

/**
 * Merges `overrides` (checked at run time too: they may come from plain JS
 * or JSON) over {@link DEFAULT_SLO_TARGETS} and checks the result,
 * once, where the options enter.
 *
 * @param field how to name the group in error messages (`slo.deliveryP99Ms`).
 * @throws RangeError naming the field for a target that is not a finite
 * number > 0, or for an unknown name — a typo would otherwise silently keep
 * the default.
 */
export function resolveSloTargets(overrides: Partial<SloTargets> = {}, field = 'slo'): SloTargets {
  // A target of 0 could never be met (every SLI is ≥ 0), so it is a mistake.
  return resolveNamedNumbers(field, overrides, DEFAULT_SLO_TARGETS, 'an SLO', assertPositive);
}

/**
 * @internal The shared body of {@link resolveSloTargets} and
 * `resolveAlertThresholds` (alerts.ts): merges `overrides` over `defaults`,
 * refusing a name `defaults` lacks (`${field}.${key} is not ${what}; known:
 * …`) — a typo would otherwise silently keep the default — and checks every
 * resulting value, in the order of `defaults`, with `check`, which is given
 * the field name (`slo.deliveryP99Ms`).
 *
 * @throws RangeError from `assertObject`, for an unknown name, or from `check`.
 */
export function resolveNamedNumbers<T extends object>(
  field: string,
  overrides: Partial<T>,
  defaults: Readonly<T>,
  what: string,
  check: (field: string, value: unknown) => void,
): T {
  assertObject(field, overrides);
  const names = Object.keys(defaults) as (keyof T & string)[];
  for (const key of Object.keys(overrides)) {
    if (!(names as string[]).includes(key)) {
      throw new RangeError(`${field}.${key} is not ${what}; known: ${names.join(', ')}`);
    }
  }
  const resolved = { ...defaults } as T;
  for (const name of names) {
    const value = overrides[name] ?? defaults[name];
    check(`${field}.${name}`, value);
    resolved[name] = value as T[typeof name];
  }
  return resolved;
}

/**
 * Evaluates every SLO: `ok` is `value < target`, or `undefined` when the
 * figure is missing or not a finite number (no data is neither a pass nor a
 * miss, so a fresh tab does not report a breach — or a success).
 *
 * `targets` may be partial (the rest are the defaults) and are checked like {@link resolveSloTargets} (it is cheap, and a
 * report must never be computed against a broken target).
 *
 * @throws RangeError naming the field for a bad target.
 */
export function evaluateSlos(
  figures: SloFigures,
  targets: Partial<SloTargets> = DEFAULT_SLO_TARGETS,
): SloReport {
  const resolved = targets === DEFAULT_SLO_TARGETS ? DEFAULT_SLO_TARGETS : resolveSloTargets(targets);
  const report = {} as SloReport;
  for (const name of SLO_NAMES) {
    const raw = figures[name];
    const value = typeof raw === 'number' && Number.isFinite(raw) ? raw : undefined;
    const target = resolved[name];
    report[name] = { value, target, ok: value === undefined ? undefined : value < target };
  }
  return report;
}
