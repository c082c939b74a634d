import {
  DEFAULT_SLO_TARGETS,
  resolveSloTargets,
  SLO_NAMES,
  type SloName,
  type SloTargets,
} from './thresholds';

export {
  DEFAULT_SLO_TARGETS,
  resolveNamedNumbers,
  resolveSloTargets,
  SLO_NAMES,
  type SloName,
  type SloTargets,
} from './thresholds';

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
