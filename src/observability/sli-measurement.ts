import type { ResolvedOptions } from '../options';
import type { RealtimeState } from '../state';
import type { Store } from '../store';
import type { ClockEstimate } from '../tabs/channel-messages';
import { SliCollector } from './sli-collector';
import { buildSliReport, sliState } from './sli-report';
import type { SliReporter, SliReporterOptions } from './sli-reporter';
import type { SlidingCounter } from './sliding-counter';
import type { SliReport } from './telemetry-payload';

// What a session that measures SLIs loads (see the client's #measure): the
// collector with its sketches, SLOs and alerts, the report built from it, and
// in a sampled session the reporter that sends it. The wiring lives here, not
// in the client, so that apps that never measure do not carry it.

export { SliCollector } from './sli-collector';
export { buildSliReport, sliState } from './sli-report';

/** What the client reads of this tab's state and session while measuring. */
export interface MeasurementHost {
  readonly clientOptions: ResolvedOptions;
  /** Elections won in the last hour, counted by the client from its start. */
  readonly electionCounter: SlidingCounter;
  /** The core's class of the collector's sliding windows (see SliCollectorOptions). */
  readonly slidingWindow: typeof SlidingCounter;
  readonly newSessionId: string;
  /**
   * Server clock minus ours (ms), as estimated at the last welcome (undefined
   * before one), and how far it may be off (see SliCollector.setClockOffset).
   */
  clockEstimate(): ClockEstimate;
  /**
   * This tab's own breaker is open while its loop runs (see the client's
   * #circuitToGuard); not `state().circuit`, which in a follower is the leader's.
   */
  readonly circuitOpenNow: boolean;
  /**
   * The client's state, also watched for realtime coming back on and for
   * services subscribed again (see SliCollector.cameOn and .subscribed).
   */
  readonly stateStore: Store<RealtimeState>;
  /** The page's window and document, which the reporter flushes on leaving. */
  readonly pageTargets: Pick<SliReporterOptions, 'window' | 'document'>;
  /** The telemetry URL, resolved. */
  readonly telemetryUrl: string;
  /** Some subscriber wants events: the reporter runs. */
  clientActive(): boolean;
  /** What the collector would have been told while it loaded, in order. */
  readonly toldMeanwhile: readonly ((sli: SliCollector) => void)[];
}

/** A session's SLI measurement, once its code is here. */
export interface Measurement {
  readonly sli: SliCollector;
  /** The state's SLI figures of now. */
  sliFigures(state: RealtimeState): Partial<RealtimeState>;
  /** The report of now: the `sli` event's payload and what the reporter sends. */
  report(): SliReport;
  /** A sampled session's reporter, once its code is here too. */
  reportWith(module: { SliReporter: typeof SliReporter }): void;
  /** The client became active: the reporter, if any, runs. */
  start(): void;
  /** The client went idle or closed: the reporter sends what it has (see SliReporter.send) and stops. */
  stop(throttled?: boolean): void;
}

/**
 * Starts measuring with the client's clocks, targets and thresholds, and
 * tells the collector what it was told meanwhile.
 */
export function startMeasuring(host: MeasurementHost): Measurement {
  const { clientOptions: options } = host;
  const { clock, wallClock } = options.platform;
  const sli = new SliCollector({
    clock,
    wallClock,
    sloTargets: options.slo,
    alertThresholds: options.alerts,
    elections: host.electionCounter,
    window: (windowMs) => new host.slidingWindow({ windowMs, clock }),
  });
  sli.circuit(host.circuitOpenNow);
  const { serverClockOffsetMs, serverClockOffsetErrorMs } = host.clockEstimate();
  sli.setClockOffset(serverClockOffsetMs ?? 0, serverClockOffsetErrorMs);
  sli.subscribed(host.stateStore.getState().services, -Infinity);
  let servicesChanged = false;
  host.stateStore.subscribe((state, previous) => {
    if (previous.status === 'disabled' && state.status !== 'disabled') sli.cameOn();
    // The list the task ends with: a service unsubscribed and subscribed
    // again in one go (a route swapping one subscriber for another, React
    // StrictMode) was never left, and its clock must not start over.
    if (state.services !== previous.services && !servicesChanged) {
      servicesChanged = true;
      queueMicrotask(() => {
        servicesChanged = false;
        sli.subscribed(host.stateStore.getState().services);
      });
    }
  });
  let reporter: SliReporter | undefined;
  // The collector's methods run no app code: nothing is told meanwhile. The
  // client marks `sli.measured` once this returned: the app's state
  // listeners then find the measurement the client's, and tell it directly.
  for (const tell of host.toldMeanwhile) tell(sli);
  const report = (): SliReport =>
    buildSliReport(sli, host.stateStore.getState(), {
      sessionId: host.newSessionId,
      sentAt: wallClock(),
      orgId: options.scope.orgId,
    });
  return {
    sli,
    sliFigures: (state) => sliState(sli, state, reporter?.stats().sent ?? 0),
    report,
    reportWith: ({ SliReporter }) => {
      // The platform's fetch, clocks and random; the page's window and document.
      reporter = new SliReporter({
        ...options.platform,
        ...host.pageTargets,
        // Its intervalMs.
        ...options.telemetry,
        url: host.telemetryUrl,
        sampled: true,
        collect: report,
      });
      if (host.clientActive()) reporter.start();
    },
    start: () => reporter?.start(),
    stop: (throttled) => {
      reporter?.send(throttled);
      reporter?.stop();
    },
  };
}
