import type { ResolvedOptions } from '../options';
import type { RealtimeState } from '../state';
import type { Store } from '../store';
import { SliCollector } from './sli-collector';
import { buildSliReport, sliState } from './sli-report';
import type { SlidingCounter } from './sliding-counter';
import type { SliReport } from './telemetry-payload';

// What a session that measures SLIs loads (see the client's #measure): the
// collector with its sketches, SLOs and alerts, and the report built from it.
// The wiring lives here, not in the client, so that apps that never measure
// do not carry it.

export { SliCollector } from './sli-collector';
export { buildSliReport, sliState } from './sli-report';

/** What the client reads of this tab's state and session while measuring. */
export interface MeasurementHost {
  readonly options: ResolvedOptions;
  /** Elections won in the last hour, counted by the client from its start. */
  readonly elections: SlidingCounter;
  /** A sliding window of `windowMs` on the client's clock (see SliCollectorOptions). */
  window(windowMs: number): SlidingCounter;
  readonly sessionId: string;
  /** Server clock minus ours (ms), as estimated at the last welcome. */
  readonly clockOffsetMs: number;
  /**
   * This tab's own breaker is open while its loop runs (see the client's
   * #circuitToGuard); not `state().circuit`, which in a follower is the leader's.
   */
  readonly circuitOpen: boolean;
  /**
   * The client's state, also watched for realtime coming back on and for
   * services subscribed again (see SliCollector.cameOn and .subscribed).
   */
  readonly store: Store<RealtimeState>;
  /** Reports the reporter has sent so far (0 without one). */
  reportsSent(): number;
}

/** A session's SLI measurement, once its code is here. */
export interface Measurement {
  readonly sli: SliCollector;
  /** The state's SLI figures of now. */
  figures(state: RealtimeState): Partial<RealtimeState>;
  /** The report of now: the `sli` event's payload and what the reporter sends. */
  report(): SliReport;
}

/** Starts measuring with the client's clocks, targets and thresholds. */
export function startMeasuring(host: MeasurementHost): Measurement {
  const { options } = host;
  const { clock, wallClock } = options.platform;
  const sli = new SliCollector({
    clock,
    wallClock,
    sloTargets: options.slo,
    alertThresholds: options.alerts,
    elections: host.elections,
    window: host.window,
  });
  sli.circuit(host.circuitOpen);
  sli.setClockOffset(host.clockOffsetMs);
  sli.subscribed(host.store.getState().services, -Infinity);
  let servicesChanged = false;
  host.store.subscribe((state, previous) => {
    if (previous.status === 'disabled' && state.status !== 'disabled') sli.cameOn();
    // The list the task ends with: a service unsubscribed and subscribed
    // again in one go (a route swapping one subscriber for another, React
    // StrictMode) was never left, and its clock must not start over.
    if (state.services !== previous.services && !servicesChanged) {
      servicesChanged = true;
      queueMicrotask(() => {
        servicesChanged = false;
        sli.subscribed(host.store.getState().services);
      });
    }
  });
  return {
    sli,
    figures: (state) => sliState(sli, state, host.reportsSent()),
    report: () =>
      buildSliReport(sli, host.store.getState(), {
        sessionId: host.sessionId,
        sentAt: wallClock(),
        orgId: options.scope.orgId,
      }),
  };
}
