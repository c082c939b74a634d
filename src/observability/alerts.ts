import type { Clock } from '../clock';
import type { AlertThresholds } from './thresholds';

// Only types come from the core's modules: this module is part of the lazily
// loaded SLI code, and a module it shared with the core would become a chunk
// of its own that every app downloads.
export type { AlertThresholds } from './thresholds';

/** `critical`: page now. `warning`: next business day. `info`: dashboard only. */
export type AlertLevel = 'critical' | 'warning' | 'info';

/** The alerts the client evaluates; at most one of each is active, at its highest level. */
export type AlertName =
  | 'circuitOpen'
  | 'leaderChurn'
  | 'deliveryP99'
  | 'optimisticTimeouts'
  | 'droppedEvents';

/** One active alert, as in `getState().alerts`. */
export interface Alert {
  readonly name: AlertName;
  readonly level: AlertLevel;
  /**
   * `clock.now()` at which the condition of this level began to hold without
   * a break (for `circuitOpen`: the `circuitOpenSinceMs` observed). For a
   * "for > 10 min" alert that is the start of the problem, not the moment
   * the alert fired.
   */
  readonly since: number;
  /** The figure that tripped it (for `circuitOpen`: how long it has been open, ms). */
  readonly value: number;
  /** The threshold `value` exceeded. */
  readonly threshold: number;
  /** One line for a human, with the value and the threshold. */
  readonly message: string;
}

/**
 * The figures {@link AlertEvaluator.observe} is fed, periodically. A missing
 * or non-finite figure means "no data": its conditions do not hold, so their
 * "for …" durations restart.
 */
export interface AlertFigures {
  /**
   * `clock.now()` at which the circuit last left `closed`; absent while
   * closed. Half-open counts as open (it is a probe of a connection still
   * broken), so this must not be the breaker's `openedAt`, which restarts at
   * every failed probe and would keep an outage of hours under 5 minutes.
   */
  circuitOpenSinceMs?: number | undefined;
  /** Leader elections in the last hour (this tab). */
  electionsPerHour?: number | undefined;
  /**
   * Event delivery latency p99, ms, of now: over a recent window (the
   * collector's is the last 4 to 5 minutes), not the whole session, or an
   * hour of healthy samples would hide a problem and keep a past one active.
   */
  deliveryP99Ms?: number | undefined;
  /** Timed-out optimistic mutations / optimistic mutations, a fraction. */
  optimisticTimeoutRate?: number | undefined;
  /** Events dropped in the last 5 minutes. */
  droppedLast5Min?: number | undefined;
}

/** Options of {@link AlertEvaluator}. */
export interface AlertEvaluatorOptions {
  /** The thresholds, resolved (`resolveAlertThresholds`: the `alerts` option over the defaults). */
  thresholds: AlertThresholds;
  /** Time source; only `now()` is used. */
  clock: Pick<Clock, 'now'>;
}

/** `12 s`, `5 min`, `1.5 h`: durations in messages. */
function formatDuration(ms: number): string {
  const round = (value: number): number => Math.round(value * 10) / 10;
  if (ms >= 3_600_000) return `${round(ms / 3_600_000)} h`;
  if (ms >= 60_000) return `${round(ms / 60_000)} min`;
  return `${round(ms / 1000)} s`;
}

function finite(value: number | undefined): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

const LEVEL_ORDER: Record<AlertLevel, number> = { critical: 0, warning: 1, info: 2 };

/** What `active` is before the first observation and after `reset` (frozen, like every list it returns). */
const NO_ALERTS: readonly Alert[] = Object.freeze([]);

/**
 * Evaluates the alert thresholds client-side from periodic figures, for
 * `getState().alerts`.
 *
 * A "for > 10 min" condition must hold at every observation for strictly
 * longer than 10 minutes, measured from the first observation where it
 * held; one observation where it does not hold (or has no data) restarts
 * it. Its precision is therefore the observation period. The circuit
 * duration is exact instead, from `circuitOpenSinceMs`. Each alert name
 * appears at most once, at its highest active level: a p99 of 6 s for 2 h is
 * the critical `deliveryP99`, not also the warning.
 *
 * The circuit also yields an `info` alert while open but not yet for longer
 * than `circuitOpenCriticalMs` ("circuit opened", for the dashboard).
 *
 * @example
 * const alerts = new AlertEvaluator({ clock });
 * setInterval(() => state.alerts = alerts.observe(currentFigures()), 30_000);
 */
export class AlertEvaluator {
  readonly #thresholds: AlertThresholds;
  readonly #clock: Pick<Clock, 'now'>;
  /**
   * Since when each threshold's condition has held without a break, by the
   * threshold's name: set at the first observation where it holds, cleared
   * at any where it does not.
   */
  #since: Partial<Record<keyof AlertThresholds, number>> = {};
  #active = NO_ALERTS;

  /** @throws RangeError naming the field when a threshold is out of range. */
  constructor(options: AlertEvaluatorOptions) {
    this.#thresholds = options.thresholds;
    this.#clock = options.clock;
  }

  /** The thresholds in force. */
  get thresholds(): Readonly<AlertThresholds> {
    return this.#thresholds;
  }

  /** The alerts active at the latest observation (empty before the first). */
  get active(): readonly Alert[] {
    return this.#active;
  }

  /**
   * Records the figures at `clock.now()` and returns the alerts active now,
   * most severe first (also kept as {@link AlertEvaluator.active}).
   */
  observe(figures: AlertFigures): readonly Alert[] {
    const now = this.#clock.now();
    const t = this.#thresholds;
    const alerts: Alert[] = [];
    const add = (
      name: AlertName,
      level: AlertLevel,
      since: number,
      value: number,
      threshold: number,
      message: string,
    ): void => {
      alerts.push({ name, level, since, value, threshold, message });
    };
    // Records whether `value` is above threshold `name` now; returns since
    // when it has been without a break, or undefined when it is not now.
    const above = (name: keyof AlertThresholds, value: number | undefined): number | undefined => {
      if (value !== undefined && value > t[name]) this.#since[name] ??= now;
      else this.#since[name] = undefined;
      return this.#since[name];
    };

    const openSince = finite(figures.circuitOpenSinceMs);
    if (openSince !== undefined) {
      const openMs = Math.max(0, now - openSince);
      const limit = t.circuitOpenCriticalMs;
      const message = `Circuit open for ${formatDuration(openMs)}`;
      if (openMs > limit) {
        add('circuitOpen', 'critical', openSince, openMs, limit, `${message} (> ${formatDuration(limit)})`);
      } else {
        add('circuitOpen', 'info', openSince, openMs, 0, message);
      }
    }

    const churn = finite(figures.electionsPerHour);
    const churnCriticalSince = above('electionsPerHourCritical', churn);
    const churnWarningSince = above('electionsPerHourWarning', churn);
    const churnSince = churnCriticalSince ?? churnWarningSince;
    if (churn !== undefined && churnSince !== undefined) {
      const critical = churnCriticalSince !== undefined;
      const threshold = critical ? t.electionsPerHourCritical : t.electionsPerHourWarning;
      add(
        'leaderChurn',
        critical ? 'critical' : 'warning',
        churnSince,
        churn,
        threshold,
        `Leader churn ${churn} elections in the last hour (> ${threshold}/hour)`,
      );
    }

    const p99 = finite(figures.deliveryP99Ms);
    const p99CriticalSince = above('deliveryP99CriticalMs', p99);
    const p99WarningSince = above('deliveryP99WarningMs', p99);
    if (p99 !== undefined) {
      const deliveryAlert = (level: AlertLevel, since: number, threshold: number): void =>
        add(
          'deliveryP99',
          level,
          since,
          p99,
          threshold,
          `Event delivery p99 ${Math.round(p99)} ms (> ${threshold} ms) for ${formatDuration(now - since)}`,
        );
      if (p99CriticalSince !== undefined && now - p99CriticalSince > t.deliveryP99CriticalForMs) {
        deliveryAlert('critical', p99CriticalSince, t.deliveryP99CriticalMs);
      } else if (p99WarningSince !== undefined && now - p99WarningSince > t.deliveryP99WarningForMs) {
        deliveryAlert('warning', p99WarningSince, t.deliveryP99WarningMs);
      }
    }

    const timeoutRate = finite(figures.optimisticTimeoutRate);
    const timeoutSince = above('optimisticTimeoutRateWarning', timeoutRate);
    if (timeoutRate !== undefined && timeoutSince !== undefined) {
      add(
        'optimisticTimeouts',
        'warning',
        timeoutSince,
        timeoutRate,
        t.optimisticTimeoutRateWarning,
        `Optimistic mutations timing out: ${percent(timeoutRate)} (> ${percent(t.optimisticTimeoutRateWarning)})`,
      );
    }

    const dropped = finite(figures.droppedLast5Min);
    const droppedSince = above('droppedEventsWarning', dropped);
    if (dropped !== undefined && droppedSince !== undefined) {
      add(
        'droppedEvents',
        'warning',
        droppedSince,
        dropped,
        t.droppedEventsWarning,
        `${dropped} events dropped in the last 5 min (> ${t.droppedEventsWarning})`,
      );
    }

    // Stable sort: within a level, the fixed order above.
    alerts.sort((a, b) => LEVEL_ORDER[a.level] - LEVEL_ORDER[b.level]);
    this.#active = Object.freeze(alerts);
    return this.#active;
  }

  /** Forgets every duration and the active alerts (e.g. when the app changes scope). */
  reset(): void {
    this.#since = {};
    this.#active = NO_ALERTS;
  }
}

function percent(fraction: number): string {
  return `${Math.round(fraction * 10_000) / 100} %`;
}
