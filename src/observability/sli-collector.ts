import type { Clock, WallClock } from '../clock';
import type { RealtimeEvent } from '../protocol/schemas';
import { type Alert, AlertEvaluator, type AlertThresholds } from './alerts';
import { QuantileSketch } from './quantile-sketch';
import type { SlidingCounter } from './sliding-counter';
import { SlidingSketch } from './sliding-sketch';
import { evaluateSlos, type SloReport, type SloTargets } from './slo';
import { TimeWeightedRatio } from './time-weighted-ratio';

const HOUR_MS = 3_600_000;
const FIVE_MIN_MS = 300_000;
/**
 * Sketches of the delivery latency of now (`recentDelivery`): one a minute
 * over 5 minutes, so the window reaches back 4 to 5 minutes, well inside the
 * 10 minutes of the shortest "for" of the `deliveryP99` alert.
 */
const RECENT_DELIVERY_SLOTS = 5;
/**
 * Longer than this between two alert evaluations, the page was asleep or
 * frozen: the rollback guard's `UNSEEN_AFTER_MS` (not imported: this module
 * is loaded lazily and shares nothing with the core).
 */
const UNSEEN_AFTER_MS = 120_000;

/** Figures of one service, as the state shows them. */
export interface ServiceFigures {
  p95LatencyMs?: number;
}

/** Options of {@link SliCollector}. */
export interface SliCollectorOptions {
  clock: Clock;
  wallClock: WallClock;
  /** Resolved, as createRealtime checked them (`slo`). */
  sloTargets: SloTargets;
  /** Resolved, as createRealtime checked them (`alerts`). */
  alertThresholds: AlertThresholds;
  /**
   * Elections this tab won in the last hour. The client counts them from its
   * start (the state shows them in every session), while a collector is only
   * created once measuring begins, so it reads the client's counter.
   */
  elections: SlidingCounter;
  /**
   * Makes the collector's sliding windows, on the client's clock. The client
   * makes them (the core has the window class anyway), so this lazily loaded
   * module imports nothing the core does and shares no chunk with it.
   */
  window(windowMs: number): SlidingCounter;
}

/**
 * Keeps this tab's service-level figures: delivery latency (event `ts` to
 * dispatch, corrected by the estimated offset between the server's clock and
 * ours), takeover and mutation-to-visible times in quantile sketches, and
 * the churn, circuit-open and drop rates over sliding windows. Memory is
 * bounded: sketches have bounded buckets, windows bounded slots.
 *
 * The sketches cover the collector's whole life (the SLOs and the report
 * read them), except `recentDelivery`, the delivery latency of the last 4 to
 * 5 minutes, which the `deliveryP99` alert reads: its rules ("p99 > 5 s for
 * > 10 min") are about the latency of now, which an hour of earlier samples
 * would hide, and keep showing once it is over.
 */
export class SliCollector {
  readonly #clock: Clock;
  readonly #wallClock: WallClock;
  readonly #sloTargets: SloTargets;
  readonly delivery = new QuantileSketch();
  readonly takeover = new QuantileSketch();
  readonly mutationToVisible = new QuantileSketch();
  /** Delivery latency over the last 4 to 5 minutes (see the class comment). */
  readonly recentDelivery: SlidingSketch;
  readonly #byService = new Map<string, QuantileSketch>();
  readonly #elections: SlidingCounter;
  readonly #dropped: SlidingCounter;
  readonly #circuitOpen: TimeWeightedRatio;
  readonly #alerts: AlertEvaluator;
  #circuitOpenSince: number | undefined;
  /** `#circuitOpenSince` of the last time the circuit was open, kept once it closed. */
  #lastOpenSince: number | undefined;
  #evaluatedAt: number;
  /**
   * Server clock minus `clock` (not the wall clock, which may be stepped
   * after the estimate), in ms; the wall clock's until a welcome told us.
   */
  #serverMinusClockMs: number;
  /** How far that estimate may be off, at most (see {@link setClockOffset}); 0 if unknown. */
  #offsetErrorMs = 0;
  /**
   * How far behind the server's clock the events delivered since the
   * estimate proved it, at most `#offsetErrorMs` (see {@link delivered}):
   * what the estimate is corrected by.
   */
  #offsetBehindMs = 0;
  /** `clock` when realtime last came back on in this tab (see {@link cameOn}). */
  #onSince = -Infinity;
  /** Per service this tab subscribes to, `clock` when it did (see {@link subscribed}). */
  readonly #subscribedSince = new Map<string, number>();
  #mutationsVisible = 0;
  #mutationsTimedOut = 0;
  /** Mutations settled in the last hour, and those of them that timed out: the `optimisticTimeouts` alert's. */
  readonly #recentSettled: SlidingCounter;
  readonly #recentTimedOut: SlidingCounter;
  readonly #startedAt: number;

  constructor(options: SliCollectorOptions) {
    const clock = options.clock;
    this.#clock = clock;
    this.#wallClock = options.wallClock;
    this.#sloTargets = options.sloTargets;
    this.#elections = options.elections;
    this.#dropped = options.window(FIVE_MIN_MS);
    this.#recentSettled = options.window(HOUR_MS);
    this.#recentTimedOut = options.window(HOUR_MS);
    this.recentDelivery = new SlidingSketch(FIVE_MIN_MS, RECENT_DELIVERY_SLOTS, clock);
    this.#circuitOpen = new TimeWeightedRatio(
      options.window(HOUR_MS),
      options.window(HOUR_MS),
      UNSEEN_AFTER_MS,
    );
    this.#alerts = new AlertEvaluator({ clock, thresholds: options.alertThresholds });
    this.#evaluatedAt = this.#startedAt = clock.now();
    this.#serverMinusClockMs = options.wallClock() - this.#startedAt;
  }

  /**
   * Server clock minus ours, in ms, as the client estimated it at `welcome`
   * (it keeps the estimate, since measuring may start after the welcome).
   *
   * `errorMs`: how far the true offset may be from it, at most. The client
   * sent its connect at `t0` and got the welcome at `t1` (its clock), and
   * the server stamped `serverTime` in between: the true offset is
   * `serverTime - t` for some `t` in [t0, t1], and the estimate takes the
   * middle, `serverTime + (t1 - t0) / 2 - t1`, off by at most half the round
   * trip. A welcome a proxy held arrives late with an early `serverTime`:
   * the estimate is then about half the hold behind the truth, which
   * {@link delivered} makes up from the events, by no more than `errorMs`.
   * Missing, negative or not a number (a relayed welcome, a leader of an
   * older version): 0, no correction.
   */
  setClockOffset(offsetMs: number, errorMs?: number): void {
    this.#serverMinusClockMs = offsetMs + this.#wallClock() - this.#clock.now();
    // Missing or not a number: 0, as one below it.
    this.#offsetErrorMs = Math.max(errorMs || 0, 0);
    // What events proved of the estimate before, another connection's and
    // maybe another server's, is not known of this one.
    this.#offsetBehindMs = 0;
  }

  /**
   * Realtime came back on in this tab (it left `disabled`: a kill switch or
   * a rollback cooldown ended, its own or the leader's). What was stamped
   * while it was off and the replay brings now waited on purpose, the app
   * told by `fallback` to use its own path: no delivery delay. Its latency
   * counts from now. A network outage while on counts whole, as any
   * reconnect's catch-up.
   */
  cameOn(): void {
    this.#onSince = this.#clock.now();
  }

  /**
   * This tab subscribes to `services` now (its whole list). A service new in
   * it (the page came back to a route, or the tab back from idle) has what
   * it missed replayed from the cursor the tab kept: no handler here waited
   * for that while nobody subscribed, so, as after {@link cameOn}, its
   * latency counts from now. `at`: `clock` at the change; -Infinity
   * for the services subscribed before measuring began (unknown since when).
   */
  subscribed(services: readonly string[], at = this.#clock.now()): void {
    const since = this.#subscribedSince;
    // Only the services subscribed now: bounded, and one that leaves starts over.
    for (const service of since.keys()) if (!services.includes(service)) since.delete(service);
    for (const service of services) if (!since.has(service)) since.set(service, at);
  }

  /**
   * A batch was dispatched in this tab: one latency sample per event, from
   * its `ts` or, if later, from when realtime came back on (see {@link cameOn})
   * or this tab subscribed to the service (see {@link subscribed}), to the
   * server's time of the dispatch: `at` plus the estimated offset, corrected.
   *
   * The correction: the server stamped each event before it got here, so at
   * its arrival the server's clock, `at` plus the true offset, read at least
   * its `ts`. The true offset is thus at least `ts - at`, and an event with
   * `ts` ahead of `at` plus the estimate proves the estimate behind by that
   * much. The estimate is raised by the most any event since it proved, and
   * by no more than its error bound (see {@link setClockOffset}): the truth
   * is at least that high, and at most that bound above it, so the raised
   * offset is never further from it than the estimate. A bad `ts` (far
   * ahead, not a number, a hostile tab's) moves it by the bound at most.
   *
   * @param at our clock (`clock`) at the dispatch; by default now (given for
   * a dispatch that happened before the collector). Read with the estimate
   * of now: the dispatches a collector that was loading is told at its start
   * share the estimate it starts with, so what one proves holds for the
   * others.
   */
  delivered(service: string, events: readonly RealtimeEvent[], at = this.#clock.now()): void {
    let sketch = this.#byService.get(service);
    if (!sketch) {
      sketch = new QuantileSketch();
      this.#byService.set(service, sketch);
    }
    const recent = this.recentDelivery.current();
    const serverMinusClockMs = this.#serverMinusClockMs + this.#behindProvedBy(events, at);
    const now = at + serverMinusClockMs;
    const since =
      Math.max(this.#onSince, this.#subscribedSince.get(service) ?? -Infinity) + serverMinusClockMs;
    for (const event of events) {
      // Clock error can make a fresh event look a little in the future.
      const latency = Math.max(now - Math.max(event.ts, since), 0);
      sketch.add(latency);
      this.delivery.add(latency);
      recent.add(latency);
    }
  }

  /**
   * How far behind the server's clock the estimate is proved, at most its
   * error bound, with `events`, dispatched at `at` (see {@link delivered}).
   */
  #behindProvedBy(events: readonly RealtimeEvent[], at: number): number {
    let behindMs = this.#offsetBehindMs;
    const estimatedNow = at + this.#serverMinusClockMs;
    // A `ts` that is not a number compares false: it proves nothing.
    for (const { ts } of events) if (ts - estimatedNow > behindMs) behindMs = ts - estimatedNow;
    this.#offsetBehindMs = Math.min(behindMs, this.#offsetErrorMs);
    return this.#offsetBehindMs;
  }

  tookOver(ms: number): void {
    this.takeover.add(ms);
  }

  droppedEvents(count: number): void {
    if (count > 0) this.#dropped.add(count);
  }

  mutationSettled(outcome: { status: string; latencyMs?: number }): void {
    if (outcome.status === 'visible') {
      this.#mutationsVisible++;
      this.#recentSettled.add();
      if (outcome.latencyMs !== undefined) this.mutationToVisible.add(outcome.latencyMs);
    } else if (outcome.status === 'timed_out') {
      this.#mutationsTimedOut++;
      this.#recentSettled.add();
      this.#recentTimedOut.add();
    }
  }

  /** The circuit is open (half-open counts as open) or closed. */
  circuit(open: boolean): void {
    this.#circuitOpen.set(open);
    if (open) this.#lastOpenSince = this.#circuitOpenSince ??= this.#clock.now();
    else this.#circuitOpenSince = undefined;
  }

  get electionsPerHour(): number {
    return this.#elections.total();
  }

  get droppedLast5Min(): number {
    return this.#dropped.total();
  }

  get optimisticTimeoutRate(): number {
    const settled = this.#mutationsVisible + this.#mutationsTimedOut;
    return settled === 0 ? 0 : this.#mutationsTimedOut / settled;
  }

  /** 0..100, time-weighted over the last hour. */
  get circuitOpenPercent(): number {
    return (this.#circuitOpen.ratio() ?? 0) * 100;
  }

  /**
   * What the sketches and counts cover: the whole life of this tab's
   * collector (they are not reset between reports; windows of the rates are
   * their own, e.g. churn over the last hour, as is `recentDelivery`'s).
   */
  get windowMs(): number {
    return this.#clock.now() - this.#startedAt;
  }

  /**
   * `kept`: the services the state keeps figures of; the others' sketches go
   * (client.ts drops the figures of services left long ago: kept here, one
   * sketch per service a long-lived page ever had stayed for good).
   */
  byServiceP95(kept?: Record<string, number>): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [service, sketch] of this.#byService) {
      const p95 = sketch.quantile(0.95);
      // Own keys only: a service may be named `toString`, which every object has.
      if (kept && !Object.hasOwn(kept, service)) this.#byService.delete(service);
      else if (p95 !== undefined) out[service] = Math.round(p95);
    }
    return out;
  }

  slo(): SloReport {
    return evaluateSlos(
      {
        deliveryP50Ms: this.delivery.quantile(0.5),
        deliveryP99Ms: this.delivery.quantile(0.99),
        deliveryP999Ms: this.delivery.quantile(0.999),
        takeoverP95Ms: this.takeover.quantile(0.95),
        takeoverP99Ms: this.takeover.quantile(0.99),
        electionsPerHour: this.electionsPerHour,
        mutationToVisibleP95Ms: this.mutationToVisible.quantile(0.95),
        circuitOpenPercent: this.circuitOpenPercent,
      },
      this.#sloTargets,
    );
  }

  /**
   * Feeds the alert evaluator the figures of now; call it periodically. The
   * delivery p99 is that of the last 4 to 5 minutes (`recentDelivery`): with
   * no delivery in them there is no figure, and its "for" durations restart.
   * The optimistic timeout share is that of the mutations settled in the
   * last hour (59 to 60 minutes), not {@link optimisticTimeoutRate}'s.
   *
   * `rollback`: the guard's verdict as the state shows it. Its `circuit_open`
   * rule (by default the same 5 minutes as the critical `circuitOpen` alert)
   * stops the connection loop, after which the circuit counts as closed: it
   * is checked first, so the alert would never see the circuit open that
   * long. While that trip keeps realtime off, the circuit counts as open
   * since it opened: the outage is not over, only no longer tried.
   */
  evaluateAlerts(rollback?: { state: string; reason?: string | undefined }): readonly Alert[] {
    const tripped = rollback?.state === 'tripped' && rollback.reason === 'circuit_open';
    // A time nobody evaluated (a laptop's lid closed with the circuit open)
    // is no open time anybody saw, as the guard holds: counted, the first
    // tick after waking paged "circuit open for 3 h" before any probe ran.
    const now = this.#clock.now();
    const unseenMs = now - this.#evaluatedAt;
    this.#evaluatedAt = now;
    if (unseenMs > UNSEEN_AFTER_MS && this.#lastOpenSince !== undefined) {
      this.#lastOpenSince = Math.min(this.#lastOpenSince + unseenMs, now);
      if (this.#circuitOpenSince !== undefined) this.#circuitOpenSince = this.#lastOpenSince;
    }
    return this.#alerts.observe({
      circuitOpenSinceMs: this.#circuitOpenSince ?? (tripped ? this.#lastOpenSince : undefined),
      electionsPerHour: this.electionsPerHour,
      deliveryP99Ms: this.recentDelivery.read().quantile(0.99),
      // Of the last hour, as the delivery p99 is of the last minutes: over the
      // tab's life one early timeout kept the alert up for the rest of a quiet
      // session. None settled in the hour: no figure.
      optimisticTimeoutRate: this.#recentTimedOut.total() / this.#recentSettled.total(),
      droppedLast5Min: this.droppedLast5Min,
    });
  }
}
