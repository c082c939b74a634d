import type { Clock } from '../clock';
import { Timer } from '../connection/timer';
import { reportListenerError } from '../util/emitter';
import { guarded } from '../util/guarded';
import { type Defaults, fail, int, num } from '../util/validate';
import { SlidingCounter } from './sliding-counter';
import { resolveNamedNumbers } from './thresholds';

/**
 * Thresholds of the auto-rollback guard, which turns realtime off in a
 * client that is doing harm. Each field gives its default.
 */
export interface RollbackThresholds {
  /**
   * Error rate (invalid frames over frames received, valid and invalid,
   * heartbeats included) that turns realtime off. Default 0.05. Failed
   * connects are not counted: a restart or a network blip never trips the
   * guard; a backend refusing connections trips `circuit_open` after
   * `circuitOpenMs`.
   */
  errorRate: number;
  /** Error rate (as `errorRate`) that only reports `degraded`. Default 0.02. */
  degradedRate: number;
  /** The sliding window of the error rate, in ms. Default 300000 (5 min). */
  windowMs: number;
  /** Fewer frames received than this in the window say nothing yet. Default 20. */
  minSamples: number;
  /** The circuit open longer than this turns realtime off. Default 300000 (5 min). */
  circuitOpenMs: number;
  /** How long realtime stays off; `0` = for the rest of the session. Default 0. */
  cooldownMs: number;
}

/**
 * Per threshold, its default and its check: the two rates are
 * finite numbers in [0, 1]. Checks of the app's options, so in the default
 * build only; built per call, so each guard is read when the options are.
 */
const rollbackTable = (): Defaults<RollbackThresholds> => ({
  errorRate: [0.05, process.env.NODE_ENV !== 'production' && num(0, 1)],
  degradedRate: [0.02, process.env.NODE_ENV !== 'production' && num(0, 1)],
  windowMs: [300_000, process.env.NODE_ENV !== 'production' && int(1000)],
  minSamples: [20, process.env.NODE_ENV !== 'production' && int(1)],
  circuitOpenMs: [300_000, process.env.NODE_ENV !== 'production' && int(1)],
  cooldownMs: [0, process.env.NODE_ENV !== 'production' && int(0)],
});

/** Why the guard turned realtime off. */
export type RollbackReason = 'error_rate' | 'circuit_open' | 'invariant_violation';

/** The guard's verdict. */
export interface RollbackVerdict {
  state: 'ok' | 'degraded' | 'tripped';
  /** Error rate over the window, when there are enough samples. */
  errorRate?: number;
  reason?: RollbackReason;
  detail?: string;
  /** Clock time when realtime may run again; absent: the rest of the session. */
  until?: number;
}

/**
 * Validates partial thresholds and fills in the defaults: the one check of
 * the `rollback` option, in `resolveOptions`. Validates in the default
 * build; the `production` build trusts them (docs/options.md) and only
 * fills in the defaults.
 */
export function resolveRollbackThresholds(
  overrides: Partial<RollbackThresholds> = {},
  field = 'rollback',
): RollbackThresholds {
  // As `slo` and `alerts`: an undefined threshold is its default, and a name
  // that is none (a typo) is refused rather than silently ignored. Each is
  // checked within its bounds (above); then the two rates against each other.
  const t = resolveNamedNumbers<RollbackThresholds>(
    field,
    overrides,
    rollbackTable(),
    undefined,
    'a rollback threshold',
  );
  if (process.env.NODE_ENV !== 'production' && t.degradedRate > t.errorRate)
    fail(`${field}.degradedRate`, `≤ ${field}.errorRate`, t.degradedRate);
  return t;
}

/** Defaults of {@link RollbackThresholds} (what resolving no overrides gives). */
export const DEFAULT_ROLLBACK_THRESHOLDS: Readonly<RollbackThresholds> = /* @__PURE__ */ Object.freeze(
  /* @__PURE__ */ resolveRollbackThresholds(),
);

/**
 * Watches what the client does and turns realtime off when it is doing
 * harm: a rate of invalid frames above `errorRate` over the window, the
 * circuit open longer than `circuitOpenMs`, or any invariant violation (an
 * event applied out of order or twice) — the last one at once, since the
 * promise of the library is broken and the app's non-realtime path is the
 * safe one.
 * Between `degradedRate` and `errorRate` it says `degraded`.
 *
 * It decides; the client acts (closes the connection, fires `fallback`).
 */
export class RollbackGuard {
  readonly #thresholds: RollbackThresholds;
  readonly #clock: Clock;
  readonly #samples: SlidingCounter;
  readonly #errors: SlidingCounter;
  #circuitOpenSince: number | undefined;
  /** When `evaluate` last ran (see there). */
  #evaluatedAt: number;
  #tripped: RollbackVerdict | undefined;
  readonly #cooldown: Timer;
  #lastState: RollbackVerdict['state'] = 'ok';
  readonly #onChange: (verdict: RollbackVerdict) => void;

  /**
   * `thresholds` as {@link resolveRollbackThresholds} returned them: the
   * options are checked once, there. `onChange` is called whenever the
   * verdict's state changes (its one listener, the client's).
   */
  constructor({
    thresholds,
    clock,
    onChange,
  }: {
    thresholds: RollbackThresholds;
    clock: Clock;
    onChange: (verdict: RollbackVerdict) => void;
  }) {
    this.#thresholds = thresholds;
    this.#clock = clock;
    this.#onChange = onChange;
    this.#evaluatedAt = clock.now();
    this.#cooldown = new Timer(clock);
    // The thresholds hold `windowMs` and no `buckets`.
    const window = { ...thresholds, clock };
    this.#samples = new SlidingCounter(window);
    this.#errors = new SlidingCounter(window);
  }

  /**
   * Frames received: how many were valid and how many were not. Failed
   * connects are no samples: heartbeats filled the window of a quiet tab, so
   * the second failed reconnect of a server restart tripped `error_rate` for
   * the session. A backend that keeps refusing is the open circuit's to judge.
   */
  recordFrames(valid: number, invalid: number): void {
    this.#samples.add(valid + invalid);
    if (invalid) {
      this.#errors.add(invalid);
      this.evaluate();
    }
  }

  /** The circuit opened (`true`) or closed again (`false`); half-open still counts as open. */
  circuitOpen(open: boolean): void {
    if (open) this.#circuitOpenSince ??= this.#clock.now();
    else this.#circuitOpenSince = undefined;
    this.evaluate();
  }

  /** Stops the cooldown's timer: a closed client must hold no timer (it would keep Node running). */
  dispose(): void {
    this.#cooldown.clear();
  }

  /** The verdict now (a cooldown that ended clears a trip). */
  verdict(): RollbackVerdict {
    const tripped = this.#tripped;
    if (tripped) {
      // No `until` (tripped for the rest of the session) compares false: never over.
      if (!(this.#clock.now() >= tripped.until!)) return tripped;
      this.#tripped = undefined;
      this.#samples.reset();
      this.#errors.reset();
      // Told wherever it is noticed: the client's gate asks here too (a tab
      // idle as the cooldown ended, given a flags message or a subscriber) and
      // lets the tab back, while its state would say `tripped` until a later
      // evaluation. The windows are empty: `ok`. Told once: the gate the
      // report runs asks again, and hears the trip over.
      return this.#report({ state: 'ok' });
    }
    const samples = this.#samples.total();
    if (samples < this.#thresholds.minSamples) return { state: 'ok' };
    const errorRate = this.#errors.total() / samples;
    return { state: errorRate > this.#thresholds.degradedRate ? 'degraded' : 'ok', errorRate };
  }

  /**
   * Trips, unless already tripped (the first trip stays); returns the trip.
   * Called for an invariant violation (off at once), and with `cooldownMs`
   * for a trip taken over from a leader tab that left (what remained of its
   * cooldown; 0: the rest of the session).
   */
  trip(reason: RollbackReason, detail: string, cooldownMs = this.#thresholds.cooldownMs): RollbackVerdict {
    // The end told when it comes: the next SLI tick is up to 10 s later, and
    // an idle tab has none (its state said `tripped` until a subscriber came).
    // Without a cooldown the call finds nothing to end.
    // A timer may fire before the clock reads its time (Node's loop time, a
    // coarsened performance.now()): then it waits for the rest.
    const end = (): void => {
      const { until } = this.verdict();
      if (until) this.#cooldown.set(end, until - this.#clock.now());
    };
    if (!this.#tripped) {
      this.#cooldown.set(end, cooldownMs);
      // No `until` without a cooldown: off for the rest of the session.
      this.#tripped = {
        state: 'tripped',
        reason,
        detail,
        ...(cooldownMs > 0 && { until: this.#clock.now() + cooldownMs }),
      };
    }
    // While tripped the last state reported is `tripped`: reporting it again tells no one.
    return this.#report(this.#tripped);
  }

  /** Checks the time-based condition (the circuit open too long); call it now and then. */
  evaluate(): RollbackVerdict {
    // While tripped (even if the cooldown ends in `verdict()` below) nothing
    // more can trip it; the conditions are checked again on the next call.
    const tripped = this.#tripped;
    const now = this.#clock.now();
    // A page asleep (a laptop's lid closed, often just after its network
    // went and opened the circuit) or frozen is evaluated by nobody: that
    // time is no open circuit the guard saw, and counting it tripped
    // `circuit_open` at the first tick after waking, before any probe ran,
    // for the rest of the session. An active tab is evaluated every 10 s,
    // a throttled background one about once a minute.
    // Not past now: a circuit that opened at this very call (a loop started
    // again after the tab idled) was open for none of that time. Longer than
    // 2 minutes between two evaluations, the page was asleep or frozen.
    const unseenMs = now - this.#evaluatedAt;
    this.#evaluatedAt = now;
    if (unseenMs > 120_000 && this.#circuitOpenSince !== undefined)
      this.#circuitOpenSince = Math.min(this.#circuitOpenSince + unseenMs, now);
    // -Infinity while the circuit is closed: never too long.
    const openMs = now - (this.#circuitOpenSince ?? Infinity);
    // Asked before the circuit's trip: untripped, it only reads the windows.
    const verdict = this.verdict();
    // Undefined (too few samples) is above no threshold.
    const errorRate = verdict.errorRate!;
    if (!tripped) {
      if (openMs > this.#thresholds.circuitOpenMs)
        return this.trip('circuit_open', `circuit open for ${Math.round(openMs)} ms`);
      if (errorRate > this.#thresholds.errorRate)
        return this.trip('error_rate', `error rate ${(errorRate * 100).toFixed(1)} %`);
    }
    return this.#report(verdict);
  }

  /** Tells `onChange` when the state changed; returns `verdict`. */
  #report(verdict: RollbackVerdict): RollbackVerdict {
    if (verdict.state !== this.#lastState) {
      this.#lastState = verdict.state;
      // The listener's bug must not break the guard.
      guarded(() => this.#onChange(verdict), reportListenerError);
    }
    return verdict;
  }
}
