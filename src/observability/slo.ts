import type { SloName, SloTargets } from './thresholds';

// Only types come from thresholds.ts: this module is part of the lazily
// loaded SLI code, and a module it shared with the core would become a chunk
// of its own that every app downloads.
export type { SloName, SloTargets } from './thresholds';

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
 * `targets` are resolved (`resolveSloTargets`: the `slo` option over the
 * defaults, checked once by createRealtime); the report has their keys, in
 * their order.
 */
export function evaluateSlos(figures: SloFigures, targets: SloTargets): SloReport {
  const report = {} as SloReport;
  for (const name of Object.keys(targets) as SloName[]) {
    const raw = figures[name];
    const value = typeof raw === 'number' && Number.isFinite(raw) ? raw : undefined;
    const target = targets[name];
    report[name] = { value, target, ok: value === undefined ? undefined : value < target };
  }
  return report;
}
