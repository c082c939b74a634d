import { describe, expect, it } from 'vitest';
import { SliCollector } from '../../../src/observability/sli-collector';
import { buildSliReport } from '../../../src/observability/sli-report';
import { SlidingCounter } from '../../../src/observability/sliding-counter';
import { sliReportSchema } from '../../../src/observability/telemetry-payload';
import { DEFAULT_ALERT_THRESHOLDS, DEFAULT_SLO_TARGETS } from '../../../src/observability/thresholds';
import { DEFAULT_FLAGS } from '../../../src/options';
import { initialState } from '../../../src/state';

const HOUR = 60 * 60 * 1000;

function collector(): SliCollector {
  const clock = { now: () => 0, setTimeout: () => 0, clearTimeout: () => {} };
  return new SliCollector({
    clock,
    wallClock: () => 1_700_000_000_000,
    sloTargets: DEFAULT_SLO_TARGETS,
    alertThresholds: DEFAULT_ALERT_THRESHOLDS,
    elections: new SlidingCounter({ windowMs: HOUR, clock }),
    window: (windowMs) => new SlidingCounter({ windowMs, clock }),
  });
}

describe('buildSliReport', () => {
  // An operator sees a broken flags URL (kill switches not reaching pages)
  // in the reports, not only in each user's console.
  it('carries counters.flagsUrlFailures as sli.flagsUrlFailures, which the ingest keeps', () => {
    const state = initialState({
      tabId: 'tab_1',
      isLeader: true,
      electionStrategy: 'none',
      flags: DEFAULT_FLAGS,
      sampled: true,
    });
    const meta = { sessionId: 'sess_1', sentAt: 1_700_000_000_000, orgId: '' };
    expect(buildSliReport(collector(), state, meta).sli.flagsUrlFailures).toBe(0);
    const failing = { ...state, counters: { ...state.counters, flagsUrlFailures: 3 } };
    const report = buildSliReport(collector(), failing, meta);
    expect(report.sli.flagsUrlFailures).toBe(3);
    expect(sliReportSchema.parse(JSON.parse(JSON.stringify(report))).sli.flagsUrlFailures).toBe(3);
  });
});
