import { assertObject, assertPositive, type Check, num, resolveGroup } from '../util/validate';

// The SLO targets and alert thresholds as options: their defaults and the
// checks that run once, in createRealtime. Kept apart from the evaluators
// (slo.ts, alerts.ts), which only tabs that measure SLIs load.

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

/**
 * Every SLO name, in the order they are reported. Both calls are marked pure,
 * so a bundle that never reads it (the core's: nothing in src does) drops it.
 */
export const SLO_NAMES = /* @__PURE__ */ Object.freeze(
  /* @__PURE__ */ Object.keys(DEFAULT_SLO_TARGETS),
) as readonly SloName[];

/**
 * Merges `overrides` (checked at run time too: they may come from plain JS
 * or JSON) over {@link DEFAULT_SLO_TARGETS} and checks the result,
 * once, where the options enter: in the default build; the `production`
 * build trusts them (docs/options.md).
 *
 * @param field how to name the group in error messages (`slo.deliveryP99Ms`).
 * @throws RangeError naming the field for a target that is not a finite
 * number > 0, or for an unknown name — a typo would otherwise silently keep
 * the default.
 */
export function resolveSloTargets(overrides: Partial<SloTargets> = {}, field = 'slo'): SloTargets {
  // A target of 0 could never be met (every SLI is ≥ 0), so it is a mistake.
  return resolveNamedNumbers(
    field,
    overrides,
    DEFAULT_SLO_TARGETS,
    process.env.NODE_ENV !== 'production' && assertPositive,
  );
}

/**
 * @internal The shared body of {@link resolveSloTargets},
 * {@link resolveAlertThresholds} and the rollback thresholds': merges
 * `overrides` over `defaults`, refusing a non-object and a name `defaults`
 * lacks (`${field}.${key} is not ${what}; known: …`) — a typo would
 * otherwise silently keep the default — and checks every resulting value,
 * in the order of `defaults`, with `check`, which is given the field name
 * (`slo.deliveryP99Ms`); `defaults` may instead hold `[default, check]` per
 * name. `what` (default "an option") names what a known name is.
 *
 * The checks catch a programmer's mistake in app code: they run in the
 * default build; the `production` build trusts the options and only merges
 * (each check there is `false` or absent, see `resolveGroup`).
 *
 * @throws RangeError from `assertObject`, for an unknown name, or from `check`
 * (default build).
 */
export function resolveNamedNumbers<T extends object>(
  field: string,
  overrides: Partial<T>,
  defaults: object,
  check?: Check | false,
  what?: string,
): T {
  // An option of the app's: checked in the default build only, as resolveGroup's own.
  if (process.env.NODE_ENV !== 'production') assertObject(field, overrides);
  return resolveGroup(overrides, `${field}.`, defaults, undefined, what, check);
}

/**
 * The alert thresholds. Every condition is "strictly greater than"; the
 * `…ForMs` ones must moreover hold for strictly longer than that, without a
 * break.
 */
export interface AlertThresholds {
  /** Critical when the circuit has been open longer than this, ms. */
  circuitOpenCriticalMs: number;
  /** Critical when elections in the last hour exceed this. */
  electionsPerHourCritical: number;
  /** Warning when elections in the last hour exceed this. */
  electionsPerHourWarning: number;
  /**
   * Critical when delivery p99 exceeds this (ms) for longer than
   * `deliveryP99CriticalForMs`. The p99 is that of the last 4 to 5 minutes,
   * not of the whole session.
   */
  deliveryP99CriticalMs: number;
  deliveryP99CriticalForMs: number;
  /** Warning when delivery p99 (of the last 4 to 5 minutes) exceeds this (ms) for longer than `deliveryP99WarningForMs`. */
  deliveryP99WarningMs: number;
  deliveryP99WarningForMs: number;
  /**
   * Warning when the share of the optimistic mutations settled in the last
   * hour that timed out exceeds this (a fraction: 0.01 = 1 %).
   */
  optimisticTimeoutRateWarning: number;
  /** Warning when events dropped in the last 5 minutes exceed this. */
  droppedEventsWarning: number;
}

/**
 * The thresholds of the monitoring plan. Critical: circuit open > 5 min,
 * churn > 10/hour, delivery p99 > 5 s for > 10 min. Warning: delivery p99 >
 * 3 s for > 1 h, churn > 3/hour, optimistic timeouts > 1 %, > 10 dropped
 * events in 5 min. (The plan's "subscribe endpoint p99 > 30 s" is a server
 * figure and is not evaluated here.)
 */
export const DEFAULT_ALERT_THRESHOLDS: Readonly<AlertThresholds> = Object.freeze({
  circuitOpenCriticalMs: 300_000, // 5 min
  electionsPerHourCritical: 10,
  electionsPerHourWarning: 3,
  deliveryP99CriticalMs: 5000,
  deliveryP99CriticalForMs: 600_000, // 10 min
  deliveryP99WarningMs: 3000,
  deliveryP99WarningForMs: 3_600_000, // 1 h
  optimisticTimeoutRateWarning: 0.01,
  droppedEventsWarning: 10,
});

/**
 * Merges `overrides` over {@link DEFAULT_ALERT_THRESHOLDS} and checks them
 * (in the default build; the `production` build trusts them: docs/options.md).
 *
 * @throws RangeError naming the field (`alerts.deliveryP99CriticalMs`) for a
 * value that is not a finite number ≥ 0, or for an unknown name.
 */
export function resolveAlertThresholds(
  overrides: Partial<AlertThresholds> = {},
  field = 'alerts',
): AlertThresholds {
  return resolveNamedNumbers(
    field,
    overrides,
    DEFAULT_ALERT_THRESHOLDS,
    process.env.NODE_ENV !== 'production' && num(0),
  );
}
