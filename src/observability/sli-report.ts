import type { RealtimeState } from '../state';
import type { SliCollector } from './sli-collector';
import type { SliReport } from './telemetry-payload';

/** Longest `sessionId`, `tabId` and `orgId` of a report, in code points (`sliReportSchema` holds them to it). */
export const MAX_REPORT_ID_CHARS = 200;

/** What the report says of the session that the state does not hold. */
export interface ReportMeta {
  sessionId: string;
  sentAt: number;
  /** `''` for no org: then the report carries none. */
  orgId: string;
}

/** The telemetry report of this tab (also the `sli` event's payload). */
export function buildSliReport(sli: SliCollector, state: RealtimeState, meta: ReportMeta): SliReport {
  const byService: SliReport['byService'] = {};
  const p95 = sli.byServiceP95();
  for (const service of new Set([
    ...Object.keys(state.byServiceDelivered),
    ...Object.keys(state.byServiceSuppressed),
  ])) {
    // Own keys only: a service may be named `toString`, which every object inherits.
    const entry: SliReport['byService'][string] = {
      delivered: Object.hasOwn(state.byServiceDelivered, service) ? state.byServiceDelivered[service]! : 0,
      suppressed: Object.hasOwn(state.byServiceSuppressed, service) ? state.byServiceSuppressed[service]! : 0,
    };
    if (Object.hasOwn(p95, service)) entry.p95LatencyMs = p95[service];
    byService[service] = entry;
  }
  const report: SliReport = {
    type: 'realtime_sli',
    v: 1,
    sessionId: meta.sessionId,
    tabId: state.tabId,
    sentAt: meta.sentAt,
    windowMs: sli.windowMs,
    isLeader: state.isLeader,
    health: { circuitOpen: state.circuit.state !== 'closed', status: state.status },
    sli: {
      leaderElectionsPerHour: sli.electionsPerHour,
      circuitOpenPercent: Math.min(100, sli.circuitOpenPercent),
      optimisticTimeoutRate: sli.optimisticTimeoutRate,
      gaps: state.counters.gaps,
      invalidFrames: state.counters.invalidFrames,
      reconnects: state.counters.reconnects,
      droppedEvents: sli.droppedLast5Min,
      flagsUrlFailures: state.counters.flagsUrlFailures,
    },
    byService,
    slo: sli.slo(),
    alerts: state.alerts.map(({ name, level, value, threshold }) => ({ name, level, value, threshold })),
    rollback: { active: state.rollback.state === 'tripped', reason: state.rollback.reason },
  };
  // The ingest refuses an orgId over 200 characters (`sliReportSchema`) and
  // nothing else bounds `scope.orgId`: such a tab reports without it rather
  // than not at all.
  if (meta.orgId !== '' && [...meta.orgId].length <= MAX_REPORT_ID_CHARS) report.orgId = meta.orgId;
  if (state.lastSuccessAt !== undefined) report.health.lastSuccessAt = state.lastSuccessAt;
  if (sli.delivery.count > 0) report.sli.eventDeliveryLatencyMs = sli.delivery.toJSON();
  if (sli.takeover.count > 0) report.sli.takeoverTimeMs = sli.takeover.toJSON();
  if (sli.mutationToVisible.count > 0) report.sli.mutationToVisibleMs = sli.mutationToVisible.toJSON();
  return report;
}

/**
 * The state's SLI part with the figures of now. Evaluates the alerts, so
 * call it on the SLI tick, not per event.
 */
export function sliState(
  sli: SliCollector,
  state: RealtimeState,
  reportsSent: number,
): Pick<RealtimeState, 'slo' | 'alerts' | 'byServiceP95LatencyMs' | 'sli'> {
  return {
    alerts: sli.evaluateAlerts(state.rollback),
    slo: sli.slo(),
    byServiceP95LatencyMs: sli.byServiceP95(state.byServiceDelivered),
    sli: {
      sampled: state.sli.sampled,
      measured: true,
      reportsSent,
      deliveryP50Ms: sli.delivery.quantile(0.5),
      deliveryP99Ms: sli.delivery.quantile(0.99),
      takeoverP95Ms: sli.takeover.quantile(0.95),
      mutationToVisibleP95Ms: sli.mutationToVisible.quantile(0.95),
      electionsPerHour: sli.electionsPerHour,
      circuitOpenPercent: sli.circuitOpenPercent,
      optimisticTimeoutRate: sli.optimisticTimeoutRate,
      droppedLast5Min: sli.droppedLast5Min,
    },
  };
}
